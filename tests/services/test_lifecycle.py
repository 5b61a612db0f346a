"""The request gate and the in-place reopen (what a restore relies on)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from core.app import App
from core.config import Settings
from core.lifecycle import GateBusy, Lifecycle, RequestGate


async def test_gate_waits_for_leases_and_holds_new_ones() -> None:
    gate = RequestGate()
    events: list[str] = []
    release = asyncio.Event()

    async def long_request() -> None:
        async with gate.lease():
            events.append("request started")
            await release.wait()
            events.append("request finished")

    async def maintenance() -> None:
        async with gate.closed(timeout=5):
            events.append("maintenance")
            await asyncio.sleep(0.01)
        events.append("gate open")

    async def late_request() -> None:
        async with gate.lease():
            events.append("late request")

    first = asyncio.ensure_future(long_request())
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(maintenance())
    await asyncio.sleep(0)
    late = asyncio.ensure_future(late_request())
    await asyncio.sleep(0.01)
    assert events == ["request started"]  # maintenance waits, the late request waits too
    release.set()
    await asyncio.gather(first, closing, late)
    assert events[:3] == ["request started", "request finished", "maintenance"]
    assert events.index("maintenance") < events.index("late request")


async def test_gate_gives_up_when_requests_do_not_finish() -> None:
    gate = RequestGate()
    async with gate.lease():
        with pytest.raises(GateBusy):
            async with gate.closed(timeout=0.05):
                pytest.fail("must not run")
    async with gate.lease():  # open again
        pass


@pytest.fixture
def plain_app(tmp_path: Path) -> Any:
    app = App(Settings(data_dir=tmp_path / "data"))
    app.open()
    yield app
    app.close()


async def test_reopen_runs_the_swap_with_databases_closed(plain_app: App) -> None:
    lifecycle = Lifecycle(plain_app)
    seen: list[Any] = []
    hooks: list[str] = []
    lifecycle.after_reopen.append(lambda: hooks.append("reopened"))

    def swap() -> None:
        seen.append(plain_app.store.db._writer)  # closed: no writer thread

    await lifecycle.reopen(swap, lambda: None)
    assert seen == [None]
    assert hooks == ["reopened"]
    assert plain_app.store.find("users") is not None  # open again, registry loaded


async def test_failed_reopen_puts_the_old_data_back(plain_app: App, tmp_path: Path) -> None:
    lifecycle = Lifecycle(plain_app)
    db = plain_app.store.dir / "data.db"
    aside = tmp_path / "aside.db"
    undone: list[bool] = []

    def swap() -> None:
        db.rename(aside)
        db.write_bytes(b"not a database" * 100)

    def undo() -> None:
        db.unlink()
        aside.rename(db)
        undone.append(True)

    with pytest.raises(Exception):  # noqa: B017 - whatever SQLite says about the garbage file
        await lifecycle.reopen(swap, undo)
    assert undone == [True]
    assert plain_app.store.find("users") is not None
    assert (
        plain_app.store.db.read_sync(lambda c: c.execute("SELECT count(*) FROM _collections").fetchone()[0])
        > 0
    )

"""What worker processes on one data dir share: the writer lock and the cache epochs.

Two `App`s opened on the same directory stand for two `core serve --workers` processes: each
has its own connections, writer thread and caches, exactly as separate processes would.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.app import App
from core.config import Settings
from core.store.db import Database, WriteContext
from core.store.shared import Epochs, WriterLock, writer_lock_for
from tests import fixture_data
from tests.realtime.conftest import superuser_request


@pytest.fixture
async def pair(fixture_dir: Path, tmp_path: Path) -> AsyncIterator[tuple[App, App]]:
    data = tmp_path / "data"
    shutil.copytree(fixture_dir, data)
    first, second = App(Settings(data_dir=data)), App(Settings(data_dir=data))
    first.open()
    second.open()
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def test_epochs_are_shared_through_the_file(tmp_path: Path) -> None:
    a, b = Epochs.for_dir(tmp_path), Epochs.for_dir(tmp_path)
    before = b.snapshot()
    after = a.bump(Epochs.AUTH)
    assert b.snapshot() == after != before
    assert Epochs.changed(before, after, Epochs.AUTH)
    assert not Epochs.changed(before, after, Epochs.SCHEMA)
    a.close()
    b.close()


def test_a_held_writer_lock_holds_back_another_database(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.db", readers=1)
    db.open()
    try:
        db.write_sync(lambda ctx: ctx.conn.execute("CREATE TABLE t (v INTEGER)"))
        other = WriterLock(writer_lock_for(tmp_path / "t.db").path)
        other.open()
        other.acquire()
        done = threading.Event()
        thread = threading.Thread(
            target=lambda: (
                db.write_sync(lambda ctx: ctx.conn.execute("INSERT INTO t VALUES (1)")),
                done.set(),
            )
        )
        thread.start()
        time.sleep(0.3)
        assert not done.is_set()  # waiting on the lock, not in SQLite's busy handler
        other.release()
        thread.join(5)
        assert done.is_set()
        other.close()
    finally:
        db.close()


async def test_concurrent_writers_on_one_file_lose_nothing(tmp_path: Path) -> None:
    dbs = [Database(tmp_path / "t.db", readers=1) for _ in range(2)]
    for db in dbs:
        db.open()
    try:
        await dbs[0].write(lambda ctx: ctx.conn.execute("CREATE TABLE t (v INTEGER)"))

        def insert(v: int) -> Any:
            return lambda ctx: ctx.conn.execute("INSERT INTO t VALUES (?)", (v,))

        await asyncio.gather(*(dbs[v % 2].write(insert(v)) for v in range(400)))
        count = await dbs[1].read(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone()[0])
        assert count == 400
    finally:
        for db in dbs:
            db.close()


async def test_a_collection_created_by_one_worker_is_seen_by_the_other(pair: tuple[App, App]) -> None:
    first, second = pair
    await first.store.create_collection(
        {"name": "memos", "type": "base", "fields": [{"name": "title", "type": "text"}], "listRule": ""}
    )
    assert not first.store.sync.stale()  # its own commits do not count
    assert second.store.find("memos") is None
    assert second.store.sync.stale()
    await second.store.sync.catch_up()
    assert not second.store.sync.stale()
    notes = second.store.find("memos")
    assert notes is not None
    created = await second.store.create_record(notes, {"title": "from the other"}, superuser_request(second))
    assert created


async def test_a_write_catches_up_before_it_runs(pair: tuple[App, App]) -> None:
    first, second = pair
    await first.store.create_collection({"name": "later", "type": "base", "fields": []})

    def look(_ctx: WriteContext) -> bool:
        return second.store.find("later") is not None

    # no request-level catch-up: the writer thread does it under the lock, before the group
    assert await second.store.db.write(look)


async def test_settings_changed_by_one_worker(pair: tuple[App, App]) -> None:
    first, second = pair
    await first.store.update_settings({"meta": {"appName": "Renamed"}})
    await second.store.sync.catch_up()
    assert second.store.settings.get()["meta"]["appName"] == "Renamed"


async def test_a_new_password_on_one_worker_revokes_tokens_cached_by_the_other(pair: tuple[App, App]) -> None:
    first, second = pair
    users = second.store.find("users")
    assert users is not None
    raw = await second.auth.find_by_email(users, fixture_data.USER1[0])
    assert raw is not None
    token = second.auth.issue(users, raw)
    assert await second.auth.verify(token) is not None  # now cached by the second worker
    req = superuser_request(first)
    users_first = first.store.find("users")
    assert users_first is not None
    await first.store.update_record(
        users_first,
        fixture_data.USER1_ID,
        {
            "password": "a-new-password",
            "passwordConfirm": "a-new-password",
            "oldPassword": fixture_data.USER1[1],
        },
        req,
    )
    assert second.store.sync.stale()
    await second.store.sync.catch_up()
    assert await second.auth.verify(token) is None

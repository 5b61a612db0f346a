from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from core.app import App
from core.realtime import Broker, Limits
from core.store.record_view import fetch_dicts
from core.store.request import Auth, RequestContext
from tests import fixture_data
from tests.realtime.sse import Recorder

_barrier_ids = itertools.count()


def superuser_request(app: App) -> RequestContext:
    su = app.store.find("_superusers")
    assert su is not None
    return RequestContext(auth=Auth(record={"id": "system"}, collection=su))


def auth_of(app: App, who: str) -> Auth | None:
    if who == "guest":
        return None
    if who == "superuser":
        col_name, where, arg = "_superusers", "email", fixture_data.SUPERUSER[0]
    else:
        col_name, where, arg = (
            "users",
            "id",
            {"user1": fixture_data.USER1_ID, "user2": fixture_data.USER2_ID}[who],
        )
    col = app.store.find(col_name)
    assert col is not None
    row = app.store.db.read_sync(
        lambda conn: fetch_dicts(conn, f"SELECT * FROM `{col.name}` WHERE `{where}` = ?", (arg,))[0]
    )
    return Auth(record=row, collection=col)


@pytest.fixture
async def broker(app: App) -> AsyncIterator[Broker]:
    b = Broker(app.store, limits=Limits(idle=30, total=60))
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


Subscribe = Callable[..., Awaitable[Recorder]]


@pytest.fixture
async def subscribe(app: App, broker: Broker) -> AsyncIterator[Subscribe]:
    """A connected client of `who`, subscribed to `topics` plus `comments/*` (the barrier)."""
    recorders: list[Recorder] = []

    async def make(who: str, *topics: str, ip: str = "127.0.0.1") -> Recorder:
        client = broker.connect(ip)
        broker.subscribe(client, [*topics, "comments/*"], auth_of(app, who))
        recorder = Recorder(client)
        recorders.append(recorder)
        await recorder.wait_for(lambda frames: bool(frames))  # PB_CONNECT
        return recorder

    yield make
    for r in recorders:
        await r.close()


async def barrier(app: App, *recorders: Recorder) -> None:
    """Write a public comment and wait until every recorder got it: events are delivered in
    order, so anything written before it that a recorder has not got, it never will."""
    comments = app.store.find("comments")
    assert comments is not None
    message = f"barrier-{next(_barrier_ids)}"
    await app.store.create_record(
        comments, {"message": message, "post": "post3cccccccccc"}, superuser_request(app)
    )
    for r in recorders:
        await r.wait_for(lambda frames, m=message: any(m in f.data for f in frames))


def record_events(recorder: Recorder) -> list[dict[str, Any]]:
    """Every non-barrier event as {event, action, record}."""
    out = []
    for f in recorder.events():
        data = f.json
        if f.event == "comments/*" and str(data["record"].get("message", "")).startswith("barrier-"):
            continue
        out.append({"event": f.event, **data})
    return out

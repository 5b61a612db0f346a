"""Live records tables: an open table reloads itself when its collection changes.

Each open table holds a client of the realtime broker (core/realtime), subscribed as the
superuser to `{collection}/*`: the very events an app's SDK gets, from every worker (the
broker's NATS bus) and, under `--ha`, from changes replicated from other nodes. A record
event tells the page to reload its table (`#records-reload`, a button rendered with the
table's current filter, sort and page), so the stream holds no table state and a reload runs
the same guarded endpoint as a click on the pager. Events that arrive together wake the
stream once. When the broker ends the client (its idle or total time limit, a changed
superuser password), a new one subscribes and the table reloads once, for what it may have
missed in between; when the broker itself stopped (shutdown: it stops before this package's
hook runs), the stream ends, or the server would wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from datastar_py.sse import DatastarEvent

from core.api.realtime import SERVICE as REALTIME
from core.api.realtime import broker_of
from core.app import App
from core.realtime import Broker, Client
from core.store.request import Auth
from core.ui import render as ds_render
from core.ui.endpoints.stream import KEEPALIVE, keepalive_seconds

SERVICE = "admin.records.live"
RELOAD = "document.getElementById('records-reload')?.click()"


class TableWatch:
    """One open table's subscription to its collection's record events."""

    def __init__(self, app: App, broker: Broker, topic: str, auth: Auth, ip: str) -> None:
        self.app = app
        self.broker = broker
        self.topic = topic
        self.auth = auth
        self.ip = ip
        self.closed = False
        self._wake = asyncio.Event()
        self._client: Client | None = None
        self._pump: asyncio.Task[None] | None = None

    async def _subscribe(self) -> None:
        client = await self.broker.open(self.ip)
        self.broker.subscribe(client, [self.topic], self.auth)
        frames = 0

        async def sink(_message: Any) -> None:
            nonlocal frames
            frames += 1
            if frames > 1:  # the first frame is PB_CONNECT
                self._wake.set()

        self._client = client
        self._pump = asyncio.create_task(client.pump(sink), name="admin records live")
        self._pump.add_done_callback(lambda _task: self._wake.set())

    async def wait(self, timeout: float) -> bool:
        """True when the collection changed (or may have) within `timeout` seconds."""
        if self.closed:
            return True
        if self._client is None:
            await self._subscribe()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        self._wake.clear()
        if not self.closed and self._client is not None and self._client.discarded:
            await self._end_client()
            if self.app.services.get(REALTIME) is not self.broker:
                # the broker stopped (the server is shutting down): so does the stream
                self.closed = True
            else:
                await self._subscribe()
        return True

    async def close(self) -> None:
        self.closed = True
        self._wake.set()
        await self._end_client()

    async def _end_client(self) -> None:
        if self._client is not None:
            self.broker.disconnect(self._client.id)
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump


def _open_watches(app: App) -> set[TableWatch]:
    watches: set[TableWatch] = app.services.setdefault(SERVICE, set())
    return watches


def watch(app: App, collection: str, auth: Auth, ip: str) -> TableWatch:
    """A subscription to the record events of `collection` (close it when done)."""
    table_watch = TableWatch(app, broker_of(app), f"{collection}/*", auth, ip)
    _open_watches(app).add(table_watch)
    return table_watch


async def stream(table_watch: TableWatch, app: App) -> AsyncIterator[DatastarEvent]:
    """The events of one open table: a reload after each change of its collection."""
    keepalive = keepalive_seconds(app.settings.env)
    try:
        while not table_watch.closed:
            if await table_watch.wait(keepalive):
                if table_watch.closed:
                    break
                yield ds_render.SSE.execute_script(RELOAD)
            else:
                yield KEEPALIVE
    finally:
        await table_watch.close()
        _open_watches(app).discard(table_watch)


async def on_shutdown(app: App) -> None:
    """End the open streams: the server waits for open responses before it stops."""
    for table_watch in list(app.services.pop(SERVICE, set())):
        await table_watch.close()

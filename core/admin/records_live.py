"""Live records tables: an open table reloads itself when its collection changes.

A `Database` listener (like core/ui/changes.py, on the writer thread after each commit) reads
the table names of the changeset and nudges the open tables of those collections; the same
listener hears replicated changes applied under `--ha` and a backup restore (all tables). A
nudged stream tells its page to reload the table (`#records-reload`, a button rendered with the
table's current filter, sort and page), so the stream holds no table state: a reload runs the
same guarded endpoint, with the same rules, as a click on the pager. A burst of writes wakes a
stream once: nudges coalesce while the reload is on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import apsw
from datastar_py.sse import DatastarEvent

from core.app import App
from core.store.db import Change
from core.ui import render as ds_render
from core.ui.endpoints.stream import KEEPALIVE, keepalive_seconds
from core.ui.hub import Tab

log = logging.getLogger("core.admin")

SERVICE = "admin.records.live"
RELOAD = "document.getElementById('records-reload')?.click()"


class LiveTables:
    def __init__(self, app: App, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.tabs: set[Tab] = set()
        # the collection ids of the open tables, replaced (never mutated): the writer thread reads it
        self.watched: frozenset[str] = frozenset()

    def open(self, collection_id: str) -> Tab:
        tab = Tab(device="", token="", collection=collection_id)
        self.tabs.add(tab)
        self._rewatch()
        return tab

    def close(self, tab: Tab) -> None:
        tab.closed = True
        self.tabs.discard(tab)
        self._rewatch()

    def _rewatch(self) -> None:
        self.watched = frozenset(t.collection for t in self.tabs)

    def nudge(self, collection_ids: frozenset[str] | None) -> None:
        for tab in self.tabs:
            if collection_ids is None or tab.collection in collection_ids:
                tab.nudge()

    def __call__(self, change: Change) -> None:
        watched = self.watched
        if not watched:
            return
        if change.tags.get("data_replaced"):
            self._hop(None)
            return
        if not change.changeset:
            return
        hits: set[str] = set()
        registry = self.app.store.registry
        try:
            for item in apsw.Changeset.iter(change.changeset):
                col = registry.find(item.name)
                if col is not None and col.id in watched:
                    hits.add(col.id)
                    if hits == watched:
                        break
        except apsw.Error:
            log.exception("admin: could not read a changeset")
            return
        if hits:
            self._hop(frozenset(hits))

    def _hop(self, collection_ids: frozenset[str] | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self.loop.call_soon_threadsafe(self.nudge, collection_ids)


def live_tables(app: App) -> LiveTables:
    """The process's live tables, listening to the database from the first open table on."""
    live = app.services.get(SERVICE)
    if live is None:
        live = LiveTables(app, asyncio.get_running_loop())
        app.store.db.listeners.append(live)
        app.services[SERVICE] = live
    return live


async def stream(app: App, collection_id: str) -> AsyncIterator[DatastarEvent]:
    """The events of one open table: a reload after each change of its collection."""
    live = live_tables(app)
    tab = live.open(collection_id)
    keepalive = keepalive_seconds(app.settings.env)
    try:
        while not tab.closed:
            if await tab.wait(keepalive):
                if tab.closed:
                    break
                yield ds_render.SSE.execute_script(RELOAD)
            else:
                yield KEEPALIVE
    finally:
        live.close(tab)


async def on_shutdown(app: App) -> None:
    """End the open streams (the server waits for open responses) and stop listening."""
    live = app.services.pop(SERVICE, None)
    if live is None:
        return
    if live in app.store.db.listeners:
        app.store.db.listeners.remove(live)
    for tab in list(live.tabs):
        tab.closed = True
        tab.nudge()
    live.tabs.clear()
    live._rewatch()

"""Committed changes to auth records, turned into hub nudges.

A `Database` listener (it runs on the writer thread after each commit, like realtime's change
source): it reads the table names and primary keys of the changeset, and hops to the event
loop only for auth records some open tab shows. Because it watches the database and not the
endpoints, a profile edited through /api/collections/users/records, a password reset, or a
replicated change applied on another node reach the open tabs too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import apsw

from core.store.cache_sync import AUTH_CHANGED
from core.store.collections import Registry
from core.store.db import Change, Database
from core.ui.hub import Hub

log = logging.getLogger("core.ui")


class AuthChanges:
    def __init__(self, db: Database, registry: Registry, hub: Hub, loop: asyncio.AbstractEventLoop) -> None:
        self.db = db
        self.registry = registry
        self.hub = hub
        self.loop = loop

    def attach(self) -> None:
        self.db.listeners.append(self)

    def detach(self) -> None:
        if self in self.db.listeners:
            self.db.listeners.remove(self)

    def __call__(self, change: Change) -> None:
        if change.tags.get("data_replaced") or (change.tags.get(AUTH_CHANGED) and not change.changeset):
            # a backup restore swapped the whole database, or another worker process changed
            # some auth record (which one it does not say): every tab re-reads its session
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.hub.nudge_all)
            return
        watched = self.hub.watched
        if not change.changeset or not watched:
            return
        hits: set[tuple[str, str]] = set()
        try:
            for item in apsw.Changeset.iter(change.changeset):
                col = self.registry.find(item.name)
                if col is None or not col.is_auth or not item.pk_columns:
                    continue
                row = item.old if item.op != "INSERT" else item.new
                if not row:
                    continue
                record_id = str(row[min(item.pk_columns)])
                if (col.id, record_id) in watched:
                    hits.add((col.id, record_id))
        except apsw.Error:
            log.exception("ui: could not read a changeset")
            return
        for collection_id, record_id in hits:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self.loop.call_soon_threadsafe(self.hub.record_changed, collection_id, record_id)

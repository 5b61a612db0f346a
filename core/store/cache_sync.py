"""Keeping one process's caches in step with what other processes on the same data dir commit.

A commit that changes cached state bumps a shared epoch (core/store/shared.py) from a commit
hook: under the writer lock, before the write is acknowledged. Every other process notices the
new epoch either at the start of its next request (`stale`, then `catch_up`) or, for its own
writes, when its writer thread takes the lock (`before_group`). Catching up reloads the
collections and settings and hands a change with no changeset but the matching tags to the
commit hooks and listeners, so everything keyed on them (the auth cache, logs and cron
settings, open UI tabs) starts over exactly as after a local commit. The tag `foreign` marks
such a change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import apsw

from core.store.db import Change
from core.store.shared import Epochs

if TYPE_CHECKING:
    from core.store.store import Store

FOREIGN = "foreign"
AUTH_CHANGED = "auth_changed"
_SCHEMA_TAGS = ("collections_changed", "settings_changed")


class CacheSync:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._epochs: Epochs | None = None
        self._seen = b""

    def attach(self) -> None:
        self._epochs = Epochs.for_dir(self.store.dir)
        self._seen = self._epochs.snapshot()
        db = self.store.db
        # first: it tags the change (auth_changed) for the hooks after it
        db.commit_hooks.insert(0, self.on_commit)
        db.before_group = self.before_group

    def detach(self) -> None:
        db = self.store.db
        if self.on_commit in db.commit_hooks:
            db.commit_hooks.remove(self.on_commit)
        if db.before_group == self.before_group:
            db.before_group = None
        if self._epochs is not None:
            self._epochs.close()
            self._epochs = None

    def stale(self) -> bool:
        """Whether another process committed something this one caches (every request asks)."""
        epochs = self._epochs
        return epochs is not None and epochs.snapshot() != self._seen

    async def catch_up(self) -> None:
        """Reload what is stale before going on; the writer thread does it, under the writer
        lock, so it never races this process's own reloads after a schema change."""
        await self.store.db.write(_nothing)

    # -- writer thread ---------------------------------------------------------------------
    def on_commit(self, change: Change) -> None:
        epochs = self._epochs
        if epochs is None or change.tags.get(FOREIGN):
            return
        slots = []
        if any(change.tags.get(t) for t in _SCHEMA_TAGS):
            slots.append(Epochs.SCHEMA)
        if change.tags.get(AUTH_CHANGED) or self._touches_auth(change.changeset):
            change.tags[AUTH_CHANGED] = True
            slots.append(Epochs.AUTH)
        if slots:
            # the caller holds the writer lock and caught up before its group: no bump of another
            # process can be hidden by moving `_seen` past this one
            self._seen = epochs.bump(*slots)

    def before_group(self, conn: apsw.Connection) -> None:
        # `_seen` is written by the writer thread only (here and in on_commit)
        epochs = self._epochs
        if epochs is None:
            return
        now, old = epochs.snapshot(), self._seen
        if now == old:
            return
        tags: dict[str, bool] = {FOREIGN: True}
        if Epochs.changed(old, now, Epochs.SCHEMA):
            self.store.registry.load(conn)
            self.store.settings.load(conn)
            tags.update(dict.fromkeys(_SCHEMA_TAGS, True))
        if Epochs.changed(old, now, Epochs.AUTH):
            tags[AUTH_CHANGED] = True
        self.store.db.announce(Change(b"", tags))
        # only now: a request that finds nothing stale must find everything reloaded
        self._seen = now

    def _touches_auth(self, changeset: bytes) -> bool:
        if not changeset:
            return False
        watched = {c.name for c in self.store.registry.all() if c.is_auth}
        watched.add("_collections")
        return any(item.name in watched for item in apsw.Changeset.iter(changeset))


def _nothing(_ctx: object) -> None:
    return None

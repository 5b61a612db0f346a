"""The writer's side of `--ha`: the `Replicator` that `core.store.db.Database` calls on its
writer thread (catch up before a group, publish a group before its COMMIT).

Serializable writes (issue 13, invariant 2): a group runs in `BEGIN IMMEDIATE` on a database that
has applied everything this node knows of; its changeset is appended with
`Nats-Expected-Last-Sequence` = the applied sequence. Accepted (at exactly that sequence + 1):
the new sequence is written in the same transaction and the group commits, so `data.db` is
exactly what applying the log up to there gives. Refused because another node appended first:
the group rolls back, the entries in between are applied, and the group's writes run again on
the new state. Nothing is acknowledged to a client before its change is in the log and in this
node's `data.db`.

The NATS client lives on the event loop; the writer thread hands it coroutines and waits for
them, bounded by the write timeout, so a lost quorum turns into a 503 within that bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import apsw

from core.errors import ApiError, storage_full
from core.ha.applier import Applier, ApplyError, Mode, Restore, read_state
from core.ha.changelog import Changelog, ChangelogError, Follower, Message, NotYetReadable, WrongLastSequence
from core.ha.entry import Entry, encode
from core.ha.files import FileBucket, object_name
from core.store.db import Change, Database, WriteConflict
from core.store.files import FileStorage

log = logging.getLogger("core.ha")

T = TypeVar("T")

# the notes of a write group that other nodes' listeners use (realtime's write order, cache
# reloads); the rest stay on the writing node
SHIPPED_TAGS = ("records", "collections_changed", "settings_changed", "auth_changed", "files_removed")
# seconds an upload may take per MB, on top of the write timeout, before the write answers 503
UPLOAD_SECONDS_PER_MB = 0.1
UNAVAILABLE = "The cluster's changelog is unavailable; nothing was written. Try again."


class Replicator:
    def __init__(
        self,
        changelog: Changelog,
        loop: asyncio.AbstractEventLoop,
        *,
        node: str,
        mode: Mode = Mode.SERIALIZABLE,
        timeout: float = 5.0,
        on_applied: Callable[[apsw.Connection, Change], None] | None = None,
        files: FileBucket | None = None,
        storage: FileStorage | None = None,
    ) -> None:
        self.changelog = changelog
        self.loop = loop
        self.node = node
        self.mode = mode
        self.timeout = timeout
        # reloads what the store caches from the database (collections, settings), on the
        # writer connection, before the hooks hear of the change
        self.on_applied = on_applied
        self.files = files
        self.storage = storage
        self.stalled: str | None = None  # why this node stopped applying (health answers 503)
        # for status and metrics
        self.retries = 0  # serializable appends refused because another node came first
        self.replays = 0  # last-writer-wins groups that came back through the log
        self.conflicts: Counter[str] = Counter()  # last-writer-wins conflicts per table
        self.arrived: dict[int, float] = {}  # when entries not applied yet came in (lag in seconds)
        self.on_apply: Callable[[float], None] | None = None  # seconds each entry took to apply
        self.restore: Restore | None = None  # applies a backup restore entry (core/ha/restore.py)
        self._ids = (f"{node}:{secrets.token_hex(4)}:{n}" for n in itertools.count(1))
        self._lock = threading.Lock()
        self._buffer: dict[int, bytes] = {}  # entries the follower delivered, not applied yet
        self._known_last = 0  # the highest sequence known to be in the stream
        self.applied = 0  # the sequence data.db is at (set on the writer thread, read anywhere)
        self._nudged = False
        self._db: Database | None = None
        self._follower: Follower | None = None

    # -- event loop side -------------------------------------------------------------------
    async def start(self, db: Database) -> None:
        """Follow the stream from this database's applied sequence on; `db` applies what arrives."""
        self._db = db
        state = await db.read(read_state)
        if state is None:
            raise ApplyError(0, "this database is not derived from a changelog (no state)")
        self.applied = state.seq
        info = await self.changelog.info()
        self._known_last = max(self._known_last, int(info.state.last_seq))
        self._follower = await self.changelog.follow(state.seq + 1, self._on_message)
        db.replicator = self
        db.nudge()

    async def stop(self) -> None:
        if self._db is not None and self._db.replicator is self:
            self._db.replicator = None
        if self._follower is not None:
            await self._follower.stop()
            self._follower = None

    async def _on_message(self, message: Message) -> None:
        with self._lock:
            self._buffer[message.seq] = message.data
            self._known_last = max(self._known_last, message.seq)
            if message.seq > self.applied:
                self.arrived.setdefault(message.seq, time.monotonic())
            nudge, self._nudged = not self._nudged, True
        if nudge and self._db is not None:
            # an idle node applies too, so that its reads stay fresh
            self._db.nudge()

    @property
    def known_last(self) -> int:
        """The highest sequence known to be in the stream."""
        return self._known_last

    async def wait_applied(self, seq: int, timeout: float | None = None) -> bool:
        """Whether this node applied `seq` within `timeout` (default: the write timeout)."""
        if self.applied >= seq:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        if self._db is not None:
            self._db.nudge()  # the entry may be here already, waiting for an idle writer
        while self.applied < seq:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    # -- writer thread side (core.store.db.Replicator) -------------------------------------
    def catch_up(self, conn: apsw.Connection) -> list[Change]:
        with self._lock:
            self._nudged = False
            target = self._known_last
        if self.stalled:
            raise ApiError(503, f"This node stopped applying the changelog: {self.stalled}")
        applier = Applier(conn, self.mode, self.restore)
        state = applier.state()
        seq = state.seq if state is not None else 0
        changes: list[Change] = []
        while seq < target:
            nxt = seq + 1
            try:
                payload = self._entry(nxt)
                started = time.perf_counter()
                applied = applier.apply(nxt, payload)
                if self.on_apply is not None:
                    self.on_apply(time.perf_counter() - started)
            except ChangelogError as exc:
                log.warning("HA: catching up failed: %s", exc)
                raise ApiError(503, UNAVAILABLE) from None
            except apsw.FullError:
                raise storage_full() from None
            except ApplyError as exc:
                self.stalled = str(exc)
                log.error("HA: stopped applying the changelog at %s", exc)
                raise ApiError(503, f"This node stopped applying the changelog: {exc}") from None
            if applied is not None:
                self.conflicts.update(applied.conflicts)
            if applied is not None and applied.change is not None:
                if self.on_applied is not None:
                    self.on_applied(conn, applied.change)
                changes.append(applied.change)
            seq = self.applied = nxt
        with self._lock:
            for old in [s for s in self._buffer if s <= seq]:
                del self._buffer[old]
            for old in [s for s in self.arrived if s <= seq]:
                del self.arrived[old]
        return changes

    def publish(self, conn: apsw.Connection, change: Change, schema: bool) -> bool:
        state = read_state(conn)
        if state is None:
            raise ApiError(503, "This node's database is not derived from the changelog.")
        tags = {key: value for key, value in change.tags.items() if key in SHIPPED_TAGS}
        self._upload_files(change.tags.get("files_added") or [])
        payload = encode(Entry(self.node, change.changeset, schema, tags))
        expected = state.seq if self.mode is Mode.SERIALIZABLE else None
        try:
            seq = self._wait(
                self.changelog.append(
                    payload, msg_id=next(self._ids), expected_last=expected, timeout=self.timeout
                )
            )
        except WrongLastSequence as lost:
            with self._lock:
                self._known_last = max(self._known_last, lost.last or state.seq + 1)
            self.retries += 1
            raise WriteConflict from None
        except ChangelogError as exc:
            log.warning("HA: a write failed: %s", exc)
            raise ApiError(503, UNAVAILABLE) from None
        with self._lock:
            self._known_last = max(self._known_last, seq)
        self._forget_files(change.tags.get("files_removed") or [])
        if seq != state.seq + 1:
            # last-writer-wins, and others' entries came first: apply them and ours in log
            # order, so that every node resolves the conflicts alike
            self.replays += 1
            return False
        conn.execute("UPDATE `_ha_state` SET `seq` = ? WHERE `id` = 1", (seq,))
        # before the COMMIT, but no response can be sent before it: a reader of `applied` that
        # is answered sees the write committed
        self.applied = seq
        return True

    def _upload_files(self, added: list[list[str]]) -> None:
        """Every file the change names goes to the bucket before the change is appended."""
        if self.files is None or self.storage is None:
            return
        for collection_id, record_id, name in added:
            path = self.storage.path(collection_id, record_id, name)
            if not path.is_file():
                continue  # written and removed again within the group
            allowed = self.timeout + UPLOAD_SECONDS_PER_MB * path.stat().st_size / 1e6
            try:
                self._wait(self.files.upload(path, object_name(collection_id, record_id, name)), allowed)
            except ChangelogError as exc:
                log.warning("HA: a write failed: %s", exc)
                raise ApiError(503, UNAVAILABLE) from None

    def _forget_files(self, removed: list[list[str | None]]) -> None:
        """The bucket follows the removals of an appended entry (not waited for: a file left
        behind only costs space)."""
        if self.files is None or not removed:
            return
        # a deleted record's entry names each of its files beside the whole-record marker
        keys = [object_name(c or "", r or "", n) for c, r, n in removed if n]
        if keys:
            asyncio.run_coroutine_threadsafe(self.files.remove(keys, []), self.loop)

    def _entry(self, seq: int) -> bytes:
        # a refused append reports the stream leader's last *proposed* sequence: the entries up
        # to it may still be on their way to storage (and to the follower) for a moment
        deadline = time.monotonic() + self.timeout
        pause = 0.001
        while True:
            with self._lock:
                data = self._buffer.pop(seq, None)
            if data is not None:
                return data
            try:
                message = self._wait(self.changelog.get(seq))
            except NotYetReadable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
                continue
            if message is None:
                raise ApplyError(seq, "the stream no longer has this entry (this node needs a snapshot)")
            return message.data

    def _wait(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result((self.timeout if timeout is None else timeout) + 1)
        except (concurrent.futures.TimeoutError, TimeoutError):
            future.cancel()
            raise ChangelogError("no answer in time (no JetStream quorum, or NATS unreachable)") from None


def after_apply(store: Any) -> Callable[[apsw.Connection, Change], None]:
    """The `on_applied` of a Store: what a local write does after its commit (reload what the
    store caches, remove the files the change took away)."""

    def follow(conn: apsw.Connection, change: Change) -> None:
        if change.tags.get("collections_changed"):
            store.registry.load(conn)
        if change.tags.get("settings_changed"):
            store.settings.load(conn)
        for collection_id, record_id, name in change.tags.get("files_removed") or []:
            if name:
                store.storage.delete(collection_id, record_id, name)
            else:
                store.storage.delete_record(collection_id, record_id)

    return follow

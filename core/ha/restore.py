"""A backup restore under `--ha`: one changelog entry that every node applies alike.

Restoring a backup on one node only would split the cluster, so the restore itself goes
through the log (issue 13: nothing reaches `data.db` except through the log):

- the node that got `POST /api/backups/{key}/restore` (or `core backup restore` on a node's
  data dir, server running or not) checks the backup as without `--ha`, uploads its files to
  the file bucket and its `data.db` (compacted) to the snapshot bucket as `restore/<token>`,
  then appends an entry naming that object. Files first: no node may apply a restore whose
  records name files the bucket lacks. `auxiliary.db` (logs) stays node-local, as always;
- every node, the restoring one included, applies that entry in log order like any other: it
  downloads the object, writes into it the stream's identity and the entry's sequence, and
  copies it over its `data.db` with SQLite's backup API (one transaction on the writer
  connection, so readers see the old database or the new one, never a mix, and a crash leaves
  one or the other with its matching sequence). Entries after it apply on top. Its local
  `storage/` is moved aside first: the restored records' files come from the bucket on first
  request, as on a node that just joined;
- a node that joins later from a snapshot taken after the restore never needs the object; one
  that replays across the entry does. So the object is kept while the entry is still in the
  stream, and deleted by the snapshotting node once the stream was trimmed past it. To know
  which entry an object belongs to without a second write after the append, its `Core-Seq`
  header is set to the sequence the entry will get before each compare-and-set append (a
  restore is a compare-and-set append in last-writer-wins mode too).

Restore entries are written in format 2 (core/ha/entry.py): a node too old to know them stops
applying at one, loudly, instead of reading an empty change and diverging.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext, api
from nats.js.object_store import ObjectStore

from core.backups.layout import DATA_DB, temp_dir
from core.ha import snapshot
from core.ha.applier import ApplyError, read_state, start_state
from core.ha.changelog import Changelog, ChangelogError, StreamSettings, WrongLastSequence
from core.ha.entry import Entry, encode
from core.ha.files import FileBucket
from core.lifecycle import REPLACED_TAGS
from core.store.files import FileStorage

log = logging.getLogger("core.ha")

PREFIX = "restore/"
APPEND_ATTEMPTS = 64
# a restore replaces the whole database on every node: its apply may take a while
APPLY_SECONDS = 300.0
# an object whose sequence header was never set (its node died between the upload and the append)
UNCLAIMED_SECONDS = 24 * 3600.0


class RestoreError(Exception):
    """The restore did not reach the cluster; `status` 503 when the changelog was unavailable."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# -- the restoring node (or `core backup restore`) ---------------------------------------------
# the sequence the next append may expect as the stream's last: called with None first, then
# with the last sequence a refusal reported (None if it did not say)
NextExpected = Callable[[int | None], Awaitable[int]]


@dataclass(frozen=True)
class Sender:
    """Sends an extracted, checked backup through the changelog of `stream`."""

    js: JetStreamContext
    stream: StreamSettings
    identity: str  # the stream's identity (a data.db derives from it)
    writer: str  # who sends it (the node's name), for status only
    timeout: float

    async def send(self, extracted: Path, next_expected: NextExpected) -> int:
        """Files first, then the data, then the entry; the entry's sequence."""
        try:
            await FileBucket(self.js, self.stream.name, self.stream.replicas).upload_all(
                FileStorage(extracted / "storage")
            )
            bucket = await snapshot.bucket(self.js, self.stream.name, self.stream.replicas)
            name = f"{PREFIX}{secrets.token_hex(8)}"
            compact = extracted / ".restore-upload.db"
            await asyncio.to_thread(snapshot.vacuum_into, extracted / DATA_DB, compact)
            await _put(bucket, name, compact, {snapshot.STREAM_HEADER: self.identity})
            seq = await self._append(bucket, name, next_expected)
        except ChangelogError as exc:
            log.warning("HA: a restore failed: %s", exc)
            raise RestoreError(
                "The cluster's changelog is unavailable; nothing was restored. Try again.", 503
            ) from None
        log.info("HA: backup restore appended as entry %d (object %s)", seq, name)
        return seq

    async def _append(self, bucket: ObjectStore, name: str, next_expected: NextExpected) -> int:
        changelog = Changelog(self.js, self.stream)
        payload = encode(Entry(self.writer, restore=name))
        msg_id = f"{self.writer}:{name}"
        expected = await next_expected(None)
        for _ in range(APPEND_ATTEMPTS):
            headers = {snapshot.STREAM_HEADER: self.identity, snapshot.SEQ_HEADER: str(expected + 1)}
            try:
                await bucket.update_meta(name, api.ObjectMeta(name=name, headers=headers))
            except (nats.errors.Error, TimeoutError) as exc:
                raise ChangelogError(f"restore object header: {exc}") from None
            try:
                return await changelog.append(
                    payload, msg_id=msg_id, expected_last=expected, timeout=self.timeout
                )
            except WrongLastSequence as lost:
                # another writer appended first: claim the sequence after theirs
                expected = await next_expected(lost.last)
        raise RestoreError("Too many concurrent writes in the cluster; try the restore again.", 503)


async def _put(bucket: ObjectStore, name: str, path: Path, headers: dict[str, str]) -> None:
    with path.open("rb") as f:
        try:
            await bucket.put(name, f, meta=api.ObjectMeta(name=name, headers=headers))  # type: ignore[arg-type]
        except (nats.errors.Error, TimeoutError) as exc:
            raise ChangelogError(f"restore upload: {exc}") from None


async def restore_backup(node: Any, extracted: Path) -> int:
    """Send an extracted, checked backup through the changelog; the entry's sequence, once this
    node has applied it."""
    replicator = node.replicator
    if replicator is None or replicator.stalled:
        raise RestoreError("This node stopped applying the changelog; restore on another node.", 503)

    async def next_expected(refused_at: int | None) -> int:
        if refused_at is not None:
            await replicator.wait_applied(refused_at)  # a write of this node runs on that state too
        return int(replicator.applied)

    settings = node.settings
    sender = Sender(node.js, settings.stream, node.identity, settings.node, settings.timeout)
    seq = await sender.send(extracted, next_expected)
    if not await replicator.wait_applied(seq, APPLY_SECONDS):
        raise RestoreError(f"The restore (entry {seq}) was not applied on this node in time.", 503)
    if replicator.stalled:
        raise RestoreError(f"This node stopped applying the changelog: {replicator.stalled}", 503)
    return seq


async def send_offline(js: JetStreamContext, stream: str, identity: str, extracted: Path) -> int:
    """`core backup restore` on a data dir that follows `stream`: the restore goes through the
    log like a node's (the node applies it when it runs; so does every other node)."""
    from core.ha.node import IDENTITY_KEY  # the node module imports this one

    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        raise RestoreError(f"no stream {stream!r} on this NATS (--nats-url, --ha-stream)") from None
    except (nats.errors.Error, TimeoutError) as exc:
        raise RestoreError(f"stream {stream}: {exc}", 503) from None
    if (info.config.metadata or {}).get(IDENTITY_KEY) != identity:
        raise RestoreError(f"this data dir follows another stream than {stream}")

    async def next_expected(refused_at: int | None) -> int:
        if refused_at is not None:
            return refused_at
        return int((await js.stream_info(stream)).state.last_seq or 0)

    settings = StreamSettings(name=stream, replicas=int(info.config.num_replicas or 1))
    return await Sender(js, settings, identity, "core backup restore", 5.0).send(extracted, next_expected)


# -- every node, on the writer thread ----------------------------------------------------------
class RestoreApplier:
    """What the applier calls for a restore entry (`Applier.restore`)."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: StreamSettings,
        loop: asyncio.AbstractEventLoop,
        storage: FileStorage,
        scratch: Path,
        timeout: float,
    ) -> None:
        self.js = js
        self.stream = stream
        self.loop = loop
        self.storage = storage
        self.scratch = scratch  # a directory on the data dir's filesystem (.pb_temp_to_delete)
        self.timeout = timeout

    def __call__(self, conn: apsw.Connection, seq: int, name: str) -> dict[str, Any]:
        """Replace `conn`'s database with the object `name`, as the state after entry `seq`."""
        state = read_state(conn)
        if state is None:
            raise ApplyError(seq, "this database is not derived from a changelog (no state)")
        work = temp_dir(self.scratch) / f"restore-{seq}-{secrets.token_hex(4)}.db"
        try:
            self._download(seq, name, work)
            page_size = _page_size(conn)
            _prepare(seq, work, state.stream, state.skipped, page_size)
            _move_aside(self.storage.root, temp_dir(self.scratch))
            _replace(seq, conn, work)
        finally:
            work.unlink(missing_ok=True)
        log.info("HA: applied the backup restore of entry %d", seq)
        # the store's caches and listeners start over, as after a restore without --ha
        return dict(REPLACED_TAGS)

    def _download(self, seq: int, name: str, dest: Path) -> None:
        future = asyncio.run_coroutine_threadsafe(self._get(seq, name, dest), self.loop)
        allowed = self.timeout + APPLY_SECONDS
        try:
            future.result(allowed)
        except (concurrent.futures.TimeoutError, TimeoutError):
            future.cancel()
            raise ChangelogError(f"restore download of {name}: no answer in {allowed:.0f}s") from None

    async def _get(self, seq: int, name: str, dest: Path) -> None:
        bucket = await snapshot.bucket(self.js, self.stream.name, self.stream.replicas)
        try:
            with dest.open("wb") as f:
                await bucket.get(name, writeinto=f)  # type: ignore[arg-type]
        except nats.js.errors.ObjectNotFoundError:
            # never skipped: this node cannot reach the entries after it without the data
            raise ApplyError(
                seq,
                f"the backup restore's data ({name}) is gone from the snapshot bucket: this node needs a snapshot",
            ) from None
        except (nats.errors.Error, TimeoutError) as exc:
            raise ChangelogError(f"restore download of {name}: {exc}") from None


def _prepare(seq: int, path: Path, stream: str, skipped: int, page_size: int) -> None:
    """Make the downloaded copy the state after entry `seq`, in the live database's page size
    (a WAL database only takes a backup of its own page size)."""
    try:
        conn = apsw.Connection(str(path))
        try:
            if conn.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise ApplyError(seq, "the backup restore's data is damaged")
            conn.execute("PRAGMA journal_mode=DELETE")
            if _page_size(conn) != page_size:
                conn.execute(f"PRAGMA page_size={page_size}")
                conn.execute("VACUUM")
            with conn:
                start_state(conn, stream, seq)
                # the skipped count is the log's too: it goes on from the value before the restore
                conn.execute("UPDATE `_ha_state` SET `skipped` = ? WHERE `id` = 1", (skipped,))
        finally:
            conn.close()
    except apsw.FullError:
        raise
    except apsw.Error as exc:
        raise ApplyError(seq, f"the backup restore's data cannot be read: {exc}") from None


def _page_size(conn: apsw.Connection) -> int:
    (size,) = conn.execute("PRAGMA page_size").fetchall()[0]
    return int(str(size))


def _replace(seq: int, conn: apsw.Connection, source: Path) -> None:
    src = apsw.Connection(str(source), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        with conn.backup("main", src, "main") as backup:
            while not backup.done:
                backup.step(-1)
    except apsw.FullError:
        raise
    except apsw.Error as exc:
        raise ApplyError(seq, f"replacing data.db with the backup failed: {exc}") from None
    finally:
        src.close()


def _move_aside(root: Path, scratch: Path) -> None:
    """This node's files of the data being replaced go (removed in the background; whatever is
    left is cleaned at the next start)."""
    if not root.is_dir():
        return
    aside = scratch / f"old_storage_{secrets.token_hex(4)}"
    root.rename(aside)
    root.mkdir()
    threading.Thread(target=shutil.rmtree, args=(aside, True), name="restore cleanup", daemon=True).start()


# -- the snapshotting node: objects no entry in the stream needs -------------------------------
async def forget_replayed(bucket: ObjectStore, first_seq: int) -> int:
    """Delete restore objects whose entry the stream no longer holds (no node can replay it:
    a node behind it restores a snapshot taken after it). How many were deleted."""
    try:
        listed = await bucket.list(ignore_deletes=True)
    except nats.js.errors.NotFoundError:
        return 0
    deleted = 0
    now = time.time()
    for info in listed:
        if not str(info.name).startswith(PREFIX):
            continue
        raw = (info.headers or {}).get(snapshot.SEQ_HEADER)
        try:
            gone = (
                int(raw) < first_seq
                if raw is not None
                else now - snapshot.uploaded_at(info) > UNCLAIMED_SECONDS
            )
        except ValueError:
            gone = False
        if gone:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await bucket.delete(info.name)
                deleted += 1
    return deleted

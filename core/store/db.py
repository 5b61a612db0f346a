"""SQLite access: one writer thread fed by a queue, a small pool of reader threads.

The event loop does not wait on SQLite: writes go to the writer thread and reads to the reader
threads, except point reads of bounded cost (`read_inline`). Every write is a function run in a
savepoint of one group transaction on the writer connection, with an APSW session attached to
the group; the group's changeset (before-images included) is what the rest of the system sees.
This is the seam for `--ha`: replacing "commit locally" with "publish the changeset to the
changelog, then apply it in log order" changes only the write path (`Database._run_group`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import apsw

from core.errors import ApiError, storage_full
from core.store.shared import WriterLock, writer_lock_for

log = logging.getLogger("core.store")

T = TypeVar("T")

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL in WAL mode: a commit is in the OS once COMMIT returns, so a killed process loses
    # nothing it acknowledged; only a power loss can drop the last transactions (as PocketBase).
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-32000",
    "PRAGMA journal_size_limit=200000000",
)


@dataclass
class Change:
    """What one committed group of writes changed: its session changeset plus app-level notes."""

    changeset: bytes
    # tags left by the write function (e.g. collections touched), for listeners that need them
    tags: dict[str, Any] = field(default_factory=dict)


class WriteContext:
    """Handed to write functions: the connection plus a place to leave notes for listeners."""

    def __init__(self, conn: apsw.Connection):
        self.conn = conn
        self.tags: dict[str, Any] = {}
        self.after_commit: list[Callable[[], None]] = []
        # undo for side effects outside SQLite (files written for this transaction)
        self.on_rollback: list[Callable[[], None]] = []


ConnectionInit = Callable[[apsw.Connection], None]

# most writes one group commit may carry; bounds the latency a write can add to others
MAX_GROUP = 64
# how often a group is run again after another node appended to the changelog first; with
# the jitter below, about a second of losing every race before the writes answer 503
MAX_ATTEMPTS = 64


class WriteConflict(Exception):
    """Raised by a replicator's publish: another node got there first; catch up and run again."""


class Replicator(Protocol):
    """The changelog behind the writer under `--ha` (core/ha/replicator.py); the store never
    sees more of it than these two calls, made on the writer thread."""

    def catch_up(self, conn: apsw.Connection) -> list[Change]:
        """Apply what the log has beyond this database; the changes, for the hooks."""
        ...

    def publish(self, conn: apsw.Connection, change: Change, schema: bool) -> bool:
        """Append the open transaction's change to the log. True: the sequence is recorded in
        the transaction, which commits as the entry; False: roll it back and apply the log
        through the entry instead (last-writer-wins). Raises WriteConflict (run the group
        again) or ApiError (fail it)."""
        ...


@dataclass
class _Job:
    fn: Callable[[WriteContext], Any]
    loop: asyncio.AbstractEventLoop | None = None
    afut: asyncio.Future[Any] | None = None
    cfut: Future[Any] | None = None
    # changes collections (tables, columns, indexes): runs as a group of its own, so that a
    # replica derives the DDL from the `_collections` rows without other rows mixed in
    schema: bool = False


@dataclass
class _Outcome:
    job: _Job
    result: Any
    error: BaseException | None
    ctx: WriteContext


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def is_storage_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or a file write (an upload) that found no space."""
    return isinstance(exc, apsw.FullError) or (isinstance(exc, OSError) and exc.errno in _NO_SPACE)


def _undo(ctx: WriteContext) -> None:
    for undo in ctx.on_rollback:
        try:
            undo()
        except Exception:
            log.exception("rollback callback failed")


def _merged_tags(each: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The notes of a group's writes as one: lists joined in write order, flags kept if any set."""
    out: dict[str, Any] = {}
    for tags in each:
        for key, value in tags.items():
            if isinstance(value, list):
                out.setdefault(key, []).extend(value)
            elif not out.get(key):
                out[key] = value
    return out


def _nothing(_ctx: WriteContext) -> None:
    return None


def _resolve_all(items: list[_Outcome]) -> None:
    for o in items:
        fut = o.job.afut
        if fut is None or fut.done():
            continue  # the awaiting request was cancelled (client went away)
        if o.error is None:
            fut.set_result(o.result)
        else:
            fut.set_exception(o.error)


def open_connection(path: Path | str, init: ConnectionInit | None = None) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    conn.setbusytimeout(10000)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    if init:
        init(conn)
    return conn


class Database:
    def __init__(
        self, path: Path, readers: int = 3, init: ConnectionInit | None = None, changesets: bool = True
    ):
        self.path = path
        # recording a changeset costs a few microseconds per changed row: databases nothing
        # replicates or watches (auxiliary.db's logs) go without
        self._changesets = changesets
        self._init = init
        self._readers = readers
        # SimpleQueue (C) rather than Queue: a put costs the request path a third as much
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._write_conn: apsw.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[apsw.Connection] = []
        self._reader_lock = threading.Lock()
        # after every commit, before any write of the group is acknowledged: cache invalidation
        # (fast, synchronous; a request that got its answer must never see stale state)
        self.commit_hooks: list[Callable[[Change], None]] = []
        # after the acknowledgements: realtime and anything else that may take longer
        self.listeners: list[Callable[[Change], None]] = []
        # on the writer thread, under the writer lock, before each group: catching up with what
        # other processes on the same files committed (see core/store/shared.py)
        self.before_group: Callable[[apsw.Connection], None] | None = None
        self.replicator: Replicator | None = None
        # how many writes each group carried (metrics; on the writer thread, after the commit)
        self.on_group: Callable[[int], None] | None = None
        self._lock: WriterLock | None = None
        self._carry: _Job | None = None  # a schema write that ended the previous group
        self._full = False  # the last write found the disk full (logged once, until one succeeds)

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = writer_lock_for(self.path)
        self._lock.open()
        self._write_conn = open_connection(self.path, self._init)
        self._writer = threading.Thread(target=self._writer_loop, name="sqlite-writer", daemon=True)
        self._writer.start()
        self._pool = ThreadPoolExecutor(max_workers=self._readers, thread_name_prefix="sqlite-reader")

    def close(self) -> None:
        if self._writer:
            self._queue.put(None)
            self._writer.join(timeout=30)
            self._writer = None
        if self._pool:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._local = threading.local()  # the event loop's inline connection is closed below
        with self._reader_lock:
            for conn in self._reader_conns:
                with contextlib.suppress(Exception):
                    conn.close()
            self._reader_conns.clear()
        if self._write_conn:
            with contextlib.suppress(Exception):
                self._write_conn.execute("PRAGMA optimize")
            self._write_conn.close()
            self._write_conn = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- writes ----------------------------------------------------------------------------
    def _writer_loop(self) -> None:
        while True:
            item, self._carry = self._carry or self._queue.get(), None
            if item is None:
                return
            batch = [item]
            stop = False
            # group commit: whatever queued up while the last group ran shares one transaction,
            # so concurrent writers pay for one COMMIT and one wake-up of the event loop
            while len(batch) < MAX_GROUP and not item.schema:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                if nxt.schema:
                    self._carry = nxt
                    break
                batch.append(nxt)
            self._run_group(batch)
            if stop:
                return

    def _run_group(self, batch: list[_Job]) -> None:
        lock = self._lock
        assert lock is not None
        # another process writing these files waits here, in the kernel, not in SQLite's
        # sleeping busy handler; the lock is held until the commit hooks have run, so a
        # process that takes it next sees the epochs they bumped
        lock.acquire()
        try:
            outcomes, changes = self._commit_group(batch)
        finally:
            lock.release()
        self._deliver(outcomes, changes)
        if self.on_group is not None:
            writes = sum(1 for job in batch if job.fn is not _nothing)  # not the nudges of --ha
            if writes:
                self.on_group(writes)

    def _commit_group(self, batch: list[_Job]) -> tuple[list[_Outcome], list[Change]]:
        conn = self._write_conn
        assert conn is not None
        if self.before_group is not None:
            try:
                self.before_group(conn)
            except Exception:
                log.exception("catching up with other processes failed")
        attempt = 0
        while True:
            if self.replicator is not None:
                try:
                    for change in self.replicator.catch_up(conn):
                        self.announce(change)
                except ApiError as exc:  # the changelog cannot be read or applied: fail the group
                    return [_Outcome(job, None, exc, WriteContext(conn)) for job in batch], []
            try:
                return self._attempt(conn, batch)
            except WriteConflict:
                attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    log.warning("a write group lost the changelog race %d times; answering 503", attempt)
                    busy = ApiError(503, "Too many concurrent writes in the cluster; try again.")
                    return [_Outcome(job, None, busy, WriteContext(conn)) for job in batch], []
                # another node's entry got in first: it is applied at the top of the loop, then
                # the group's writes run again on the new state (with jitter, so that two nodes
                # that keep colliding drift apart)
                time.sleep(random.uniform(0, min(0.03, 0.001 * attempt)))

    def _attempt(self, conn: apsw.Connection, batch: list[_Job]) -> tuple[list[_Outcome], list[Change]]:
        outcomes: list[_Outcome] = []
        changeset = b""
        replayed = False  # last-writer-wins: the group's change came back through the log
        # one session for the whole group: a session per write cost ~15 us each (changeset() prepares
        # a statement per table), and the group's net changes are what a replica must apply anyway;
        # a write rolled back to its savepoint leaves nothing in it (changesets compare with the
        # rows as they are when changeset() runs)
        session = apsw.Session(conn, "main") if self._changesets else None
        try:
            if session is not None:
                # sqlite_stat1 is this node's query planner statistics, not data
                session.table_filter(lambda name: not name.startswith("sqlite_"))
                session.attach()
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                outcomes.append(self._run_one(conn, job))
                if conn.getautocommit():
                    # SQLite aborted the whole transaction (I/O error, disk full): nothing of
                    # this group is durable, so nothing of it may be acknowledged
                    raise outcomes[-1].error or apsw.Error("transaction aborted")
            if session is not None:
                changeset = session.changeset()
            if self.replicator is not None and changeset:
                tags = _merged_tags(o.ctx.tags for o in outcomes if o.error is None)
                if not self.replicator.publish(conn, Change(changeset, tags), batch[0].schema):
                    # the entry is in the log: what this node keeps is what applying it gives
                    conn.execute("ROLLBACK")
                    for change in self.replicator.catch_up(conn):
                        self.announce(change)
                    replayed = True
            if not replayed:
                conn.execute("COMMIT")
        except WriteConflict:
            self._abandon(conn, outcomes)
            raise
        except BaseException as raised:  # noqa: BLE001 - every job of the group gets the error
            exc = self._as_storage_full(raised)
            changeset = b""
            self._abandon(conn, outcomes)
            done = {id(o.job) for o in outcomes}
            for o in outcomes:
                if o.error is None:
                    o.error, o.result = exc, None
            outcomes += [_Outcome(job, None, exc, WriteContext(conn)) for job in batch if id(job) not in done]
        finally:
            if session is not None:
                session.close()
        wrote = bool(changeset) or (not self._changesets and any(o.error is None for o in outcomes))
        if self._full and wrote:
            self._full = False
            log.warning("storage of %s has space again: writes succeed", self.path.name)
        tags = _merged_tags(o.ctx.tags for o in outcomes if o.error is None)
        changes = [Change(changeset, tags)] if (changeset or tags) and not replayed else []
        for change in changes:
            self._run_hooks(self.commit_hooks, change, "commit hook failed")
        return outcomes, changes

    def _as_storage_full(self, exc: BaseException) -> BaseException:
        """A full disk as the API's storage-full error, logged once at ERROR until a write
        succeeds again (not once per failing request, nor with a traceback)."""
        if not is_storage_full(exc):
            return exc
        if not self._full:
            self._full = True
            log.error("storage of %s is full: writes fail until space is freed (%s)", self.path.name, exc)
        return storage_full()

    @staticmethod
    def _abandon(conn: apsw.Connection, outcomes: list[_Outcome]) -> None:
        """Roll the group back and undo what its successful writes did outside SQLite."""
        if not conn.getautocommit():
            with contextlib.suppress(apsw.Error):
                conn.execute("ROLLBACK")
        for o in outcomes:
            if o.error is None:
                _undo(o.ctx)

    @staticmethod
    def _run_hooks(hooks: list[Callable[[Change], None]], change: Change, failure: str) -> None:
        for hook in list(hooks):
            try:
                hook(change)
            except Exception:  # a broken hook must not break the write path
                log.exception(failure)

    def announce(self, change: Change) -> None:
        """Hand a change that no local write group made (a restore, another process's commit)
        to the commit hooks and listeners, as if it had been committed here."""
        self._run_hooks(self.commit_hooks, change, "commit hook failed")
        self._run_hooks(self.listeners, change, "change listener failed")

    def _run_one(self, conn: apsw.Connection, job: _Job) -> _Outcome:
        ctx = WriteContext(conn)
        conn.execute("SAVEPOINT write")
        try:
            result = job.fn(ctx)
            conn.execute("RELEASE write")
            return _Outcome(job, result, None, ctx)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting caller
            if not conn.getautocommit():
                conn.execute("ROLLBACK TO write")
                conn.execute("RELEASE write")
            _undo(ctx)
            return _Outcome(job, None, self._as_storage_full(exc), ctx)

    def _deliver(self, outcomes: list[_Outcome], changes: list[Change]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for o in outcomes:
            if o.error is None:
                for callback in o.ctx.after_commit:
                    try:
                        callback()
                    except Exception:
                        log.exception("after-commit callback failed")
            if o.job.loop is not None:
                by_loop.setdefault(o.job.loop, []).append(o)
            elif o.job.cfut is not None:
                if o.error is None:
                    o.job.cfut.set_result(o.result)
                else:
                    o.job.cfut.set_exception(o.error)
        for loop, items in by_loop.items():
            # one wake-up per group and loop, not one per write
            with contextlib.suppress(RuntimeError):  # the loop closed while we wrote
                loop.call_soon_threadsafe(_resolve_all, items)
        for change in changes:
            self._run_hooks(self.listeners, change, "change listener failed")

    async def write(self, fn: Callable[[WriteContext], T], *, schema: bool = False) -> T:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, loop=loop, afut=fut, schema=schema))
        return await fut

    def write_sync(self, fn: Callable[[WriteContext], T], *, schema: bool = False) -> T:
        fut: Future[T] = Future()
        self._queue.put(_Job(fn, cfut=fut, schema=schema))
        return fut.result()

    def nudge(self) -> None:
        """Run an empty group soon: under `--ha`, what the changelog brought is applied before it."""
        self._queue.put(_Job(_nothing))

    # -- reads -----------------------------------------------------------------------------
    def _reader(self) -> apsw.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self.path, self._init)
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    def _run_read(self, fn: Callable[[apsw.Connection], T]) -> T:
        conn = self._reader()
        # one read transaction, so a function that runs several queries sees one snapshot
        with conn:
            result = fn(conn)
        return result

    async def read(self, fn: Callable[[apsw.Connection], T]) -> T:
        assert self._pool is not None, "database is not open"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run_read, fn)

    def read_inline(self, fn: Callable[[apsw.Connection], T]) -> T:
        """Run a read on the calling thread (the event loop), on that thread's own connection.

        Only for reads whose cost is bounded and small, such as one row by primary key with no
        joins: they take tens of microseconds, less than handing them to a reader thread costs
        (the hop and the GIL hand-offs cut the throughput of record views by two thirds). WAL
        readers never wait for the writer, so this does not block on a lock. No read transaction
        is opened around `fn`: each statement sees its own snapshot (a point read is one or two
        statements), and BEGIN/COMMIT would be two more GIL hand-offs per request.
        """
        assert self._pool is not None, "database is not open"
        return fn(self._reader())

    def read_sync(self, fn: Callable[[apsw.Connection], T]) -> T:
        assert self._pool is not None, "database is not open"
        return self._pool.submit(self._run_read, fn).result()

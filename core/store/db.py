"""SQLite access: one writer thread fed by a queue, a small pool of reader threads.

The event loop never touches SQLite. Every write is a function run inside one transaction on the
writer connection with an APSW session attached; the session's changeset (before-images
included) is what the rest of the system sees. This is the seam for `--ha`: replacing
"commit locally" with "publish the changeset to the changelog, then apply it in log order"
changes only `Database._run_write`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import apsw

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
    """What one committed write changed: the session changeset plus app-level notes."""

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


def open_connection(path: Path | str, init: ConnectionInit | None = None) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    conn.setbusytimeout(10000)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    if init:
        init(conn)
    return conn


class Database:
    def __init__(self, path: Path, readers: int = 3, init: ConnectionInit | None = None):
        self.path = path
        self._init = init
        self._readers = readers
        self._queue: queue.Queue[tuple[Callable[[WriteContext], Any], Future[Any]] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._write_conn: apsw.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[apsw.Connection] = []
        self._reader_lock = threading.Lock()
        self.listeners: list[Callable[[Change], None]] = []

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
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

    # -- writes ----------------------------------------------------------------------------
    def _writer_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                result, change = self._run_write(fn)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting caller
                fut.set_exception(exc)
                continue
            fut.set_result(result)
            if change is not None:
                for listener in list(self.listeners):
                    try:
                        listener(change)
                    except Exception:  # a broken listener must not break the write path
                        log.exception("change listener failed")

    def _run_write(self, fn: Callable[[WriteContext], T]) -> tuple[T, Change | None]:
        conn = self._write_conn
        assert conn is not None
        ctx = WriteContext(conn)
        session = apsw.Session(conn, "main")
        session.attach()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(ctx)
            changeset = session.changeset()
            conn.execute("COMMIT")
        except BaseException:
            if not conn.getautocommit():
                conn.execute("ROLLBACK")
            for undo in ctx.on_rollback:
                try:
                    undo()
                except Exception:
                    log.exception("rollback callback failed")
            raise
        finally:
            session.close()
        for callback in ctx.after_commit:
            try:
                callback()
            except Exception:
                log.exception("after-commit callback failed")
        change = Change(changeset, ctx.tags) if changeset or ctx.tags else None
        return result, change

    async def write(self, fn: Callable[[WriteContext], T]) -> T:
        fut: Future[T] = Future()
        self._queue.put((fn, fut))
        return await asyncio.wrap_future(fut)

    def write_sync(self, fn: Callable[[WriteContext], T]) -> T:
        fut: Future[T] = Future()
        self._queue.put((fn, fut))
        return fut.result()

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
            return fn(conn)

    async def read(self, fn: Callable[[apsw.Connection], T]) -> T:
        assert self._pool is not None, "database is not open"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run_read, fn)

    def read_sync(self, fn: Callable[[apsw.Connection], T]) -> T:
        assert self._pool is not None, "database is not open"
        return self._pool.submit(self._run_read, fn).result()

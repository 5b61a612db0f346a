"""Swapping the data under a running app (a backup restore) without a request seeing it half done.

PocketBase restores by replacing the data dir and restarting the process. Here the process
stays up and the App's databases are reopened in place, so the lifecycle needs one guarantee:
no request (and no cron job) runs while the files move. Every request and job holds a lease
from the `RequestGate`; `Lifecycle.reopen` closes the gate (new requests wait at the door),
waits for the leases in flight to end, closes the databases, runs the swap, reopens, and opens
the gate again. Long-lived streams (realtime SSE) hold no lease; `after_reopen` hooks let their
owners drop such clients, as a restart would. The store's commit hooks and listeners also
get one change tagged `data_replaced` (with `collections_changed` and `settings_changed`), so
caches built on the old data start over.

    lifecycle = lifecycle_of(app)
    lifecycle.after_reopen.append(broker.disconnect_all)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from core.app import App
from core.store.db import Change

log = logging.getLogger("core.lifecycle")

SERVICE = "lifecycle"
DRAIN_TIMEOUT = 30.0
# the tags of the synthetic change announced after a reopen: every cache keyed on the data
# (auth records, collections, settings) must start over, as after a restart
REPLACED_TAGS = {"collections_changed": True, "settings_changed": True, "data_replaced": True}


class GateBusy(Exception):
    """The requests in flight did not finish in time; nothing was changed."""


class _Lease:
    __slots__ = ("gate", "sync")

    def __init__(self, gate: RequestGate, sync: Any = None) -> None:
        self.gate = gate
        self.sync = sync

    async def __aenter__(self) -> None:
        await self.gate._enter()
        sync = self.sync
        if sync is not None and sync.stale():  # another worker process changed cached state
            try:
                await sync.catch_up()
            except BaseException:
                self.gate._leave()
                raise

    async def __aexit__(self, *_exc: object) -> None:
        self.gate._leave()


class RequestGate:
    """Counts leases; `closed()` stops new ones and waits until the running ones are returned."""

    def __init__(self) -> None:
        self._active = 0
        self._open = asyncio.Event()
        self._open.set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def active(self) -> int:
        return self._active

    def lease(self, sync: Any = None) -> _Lease:
        """`async with gate.lease():` around a request (a class, not a generator: it wraps
        every request, and this costs a third of what @asynccontextmanager does). With `sync`
        (the store's CacheSync), the caches catch up with other processes first."""
        return _Lease(self, sync)

    async def _enter(self) -> None:
        while not self._open.is_set():
            await self._open.wait()
        self._active += 1
        if self._active == 1:
            self._idle.clear()

    def _leave(self) -> None:
        self._active -= 1
        if self._active == 0:
            self._idle.set()

    @contextlib.asynccontextmanager
    async def closed(self, timeout: float = DRAIN_TIMEOUT) -> AsyncIterator[None]:
        if not self._open.is_set():
            raise GateBusy("another maintenance operation is running")
        self._open.clear()
        try:
            try:
                await asyncio.wait_for(self._idle.wait(), timeout)
            except TimeoutError:
                raise GateBusy(f"{self._active} request(s) still running after {timeout:.0f}s") from None
            yield
        finally:
            self._open.set()


class Lifecycle:
    def __init__(self, app: App) -> None:
        self.app = app
        self.gate = RequestGate()
        # called (on the event loop) after the databases were reopened on new files
        self.after_reopen: list[Callable[[], Any]] = []
        # with `--workers N`, the other workers (core/workers.py): they pause around a swap
        self.peers: Any = None

    def lease(self) -> _Lease:
        """A request's or job's lease: the gate, then the caches brought up to date."""
        return self.gate.lease(self.app.store.sync)

    async def reopen(
        self, swap: Callable[[], None], undo: Callable[[], None], timeout: float = DRAIN_TIMEOUT
    ) -> None:
        """Close the databases, `swap` their files, reopen; on failure `undo` and reopen the old ones.

        `swap` and `undo` run in a worker thread while no request or job holds a lease.
        """
        peers = self.peers.paused(timeout) if self.peers is not None else contextlib.nullcontext()
        async with peers, self.gate.closed(timeout):
            await asyncio.to_thread(self._swap_and_reopen, swap, undo)
        await self._after_reopen()

    async def hold(
        self, paused: Callable[[], Awaitable[None]], resumed: asyncio.Event, timeout: float
    ) -> None:
        """Another worker swaps the files: close the databases, say so (`paused`), wait until
        `resumed` (or `timeout`), reopen them and start over every cache, as after a restart."""
        async with self.gate.closed():
            logs = self.app.services.get("logs")
            await asyncio.to_thread(self._close_quietly, logs)
            try:
                await paused()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(resumed.wait(), timeout)
            finally:
                await asyncio.to_thread(self._open_and_announce, logs)
        await self._after_reopen()

    def _open_and_announce(self, logs: Any) -> None:
        self._open(logs)
        self._announce()

    async def _after_reopen(self) -> None:
        for hook in list(self.after_reopen):
            try:
                result = hook()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("after-reopen hook failed")

    def _swap_and_reopen(self, swap: Callable[[], None], undo: Callable[[], None]) -> None:
        logs = self.app.services.get("logs")
        self.app.store.close()
        if logs is not None:
            logs.suspend()
        try:
            swap()
        except BaseException:
            self._open(logs)
            raise
        try:
            self._open(logs)
        except BaseException:
            log.exception("the restored data failed to open; putting the previous data back")
            self._close_quietly(logs)
            undo()
            self._open(logs)
            raise
        self._announce()

    def _announce(self) -> None:
        """Tell the store's commit hooks and listeners that everything changed (still gated)."""
        self.app.store.db.announce(Change(b"", dict(REPLACED_TAGS)))

    def _open(self, logs: Any) -> None:
        self.app.store.open()
        if logs is not None:
            logs.resume()

    def _close_quietly(self, logs: Any) -> None:
        with contextlib.suppress(Exception):
            self.app.store.close()
        if logs is not None:
            with contextlib.suppress(Exception):
                logs.suspend()


def lifecycle_of(app: App) -> Lifecycle:
    """The app's Lifecycle, created on first use (it must be first used on the event loop)."""
    found = app.services.get(SERVICE)
    if found is None:
        found = app.services[SERVICE] = Lifecycle(app)
    return found  # type: ignore[no-any-return]

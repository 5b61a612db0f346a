"""The scheduler: jobs by id, a once-a-minute tick on the event loop, each run in a worker thread.

Like PocketBase's `tools/cron`: adding a job with an existing id replaces it (and moves it to the
end), the tick fires at every minute boundary (UTC) and runs every due job concurrently, and a
failing job is logged without stopping the others. Job functions are plain callables: they do
blocking work (SQLite, zip files), so they run in threads and never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.cron.schedule import Schedule

log = logging.getLogger("core.cron")

JobFn = Callable[[], object]  # the result is ignored
# wraps every run, e.g. to hold a lease that a backup restore waits for
Guard = Callable[[], AbstractAsyncContextManager[Any]]


@dataclass(frozen=True)
class Job:
    id: str
    schedule: Schedule
    fn: JobFn

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "expression": self.schedule.expression}


class Scheduler:
    def __init__(self, guard: Guard | None = None) -> None:
        self._jobs: list[Job] = []
        self._lock = threading.Lock()
        self._guard = guard
        self._ticker: asyncio.Task[None] | None = None
        self._runs: set[asyncio.Task[None]] = set()
        # runs in progress, for waiters on other threads (tests drive the app from another loop)
        self._pending = 0
        self._idle = threading.Condition()

    # -- registry --------------------------------------------------------------------------
    def add(self, job_id: str, expression: str, fn: JobFn) -> Job:
        """Register (or replace) a job; raises CronSyntaxError for a bad expression."""
        job = Job(job_id, Schedule.parse(expression), fn)
        with self._lock:
            self._jobs = [j for j in self._jobs if j.id != job_id] + [job]
        return job

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._jobs = [j for j in self._jobs if j.id != job_id]

    def find(self, job_id: str) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs if j.id == job_id), None)

    def jobs(self) -> list[Job]:
        """PocketBase's listing order: user jobs by id first, then the `__pb*` system jobs."""
        with self._lock:
            jobs = list(self._jobs)
        # stable sort: system jobs keep their registration order, as they do in PocketBase
        return sorted(jobs, key=lambda j: (j.id.startswith("__pb"), "" if j.id.startswith("__pb") else j.id))

    # -- running ---------------------------------------------------------------------------
    def run(self, job: Job) -> asyncio.Task[None]:
        """Start one run in the background (fire and forget, like `POST /api/crons/{id}`)."""
        with self._idle:
            self._pending += 1
        task = asyncio.ensure_future(self._run(job))
        self._runs.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._runs.discard(task)
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    async def _run(self, job: Job) -> None:
        started = time.monotonic()
        try:
            async with self._guard() if self._guard else contextlib.nullcontext():
                await asyncio.to_thread(job.fn)
        except Exception:
            log.exception("cron job %s failed", job.id)
        else:
            log.debug("cron job %s done in %.1f ms", job.id, (time.monotonic() - started) * 1000)

    def run_due(self, moment: datetime) -> list[asyncio.Task[None]]:
        return [self.run(job) for job in self.jobs() if job.schedule.is_due(moment)]

    async def wait_idle(self) -> None:
        """Wait (on the scheduler's loop) for every run started so far."""
        while self._runs:
            await asyncio.gather(*list(self._runs), return_exceptions=True)

    def join(self, timeout: float | None = None) -> bool:
        """Block (from any thread) until no run is in progress; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    # -- ticking ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.ensure_future(self._tick_forever())

    async def stop(self, timeout: float = 30.0) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runs:
            # let running jobs finish (a backup half-written is worse than a slow shutdown)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wait_idle(), timeout)

    async def _tick_forever(self) -> None:
        while True:
            # sleep to just past the next minute boundary, then fire what is due in that minute
            now = time.time()
            await asyncio.sleep(60 - (now % 60) + 0.01)
            self.run_due(datetime.now(UTC))

"""`--workers N`: every worker process counts its own requests and write groups; the leader's
listener asks the followers for their samples over the workers' NATS connection and adds them
to its own, so a scrape describes the whole server.

Chosen over prometheus_client's multiprocess mode (a directory of mmap files per process, read
at scrape): the workers already share a NATS connection and a group id for their other
coordination, and a follower that died simply stops answering instead of leaving files behind.
A follower that does not answer in time is missing from that one scrape (its counters are not
lost: it answers the next one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from core.metrics.process import ProcessMetrics
from core.metrics.registry import Registry

log = logging.getLogger("core.metrics")

ANSWER_TIMEOUT = 1.0


def subject(group: str) -> str:
    return f"core.workers.{group}.metrics"


class WorkerMetrics:
    def __init__(self, nc: Any, group: str, count: int, own: ProcessMetrics) -> None:
        self.nc = nc
        self.subject = subject(group)
        self.count = count
        self.own = own
        self._sub: Any = None

    async def answer(self) -> None:
        """A follower: reply to the leader's requests with this process's samples."""

        async def reply(msg: Any) -> None:
            if msg.reply:
                await self.nc.publish(msg.reply, json.dumps(self.own.registry.dump()).encode())

        self._sub = await self.nc.subscribe(self.subject, cb=reply)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def gather(self) -> Registry:
        """The leader: its own samples plus every follower's that answers within the timeout."""
        total = ProcessMetrics()
        total.registry.merge(self.own.registry.dump())
        others = self.count - 1
        inbox = self.nc.new_inbox()
        answers: asyncio.Queue[bytes] = asyncio.Queue()

        async def on_answer(msg: Any) -> None:
            answers.put_nowait(msg.data)

        sub = await self.nc.subscribe(inbox, cb=on_answer)
        reporting = 1
        try:
            await self.nc.publish(self.subject, b"", reply=inbox)
            got = 0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ANSWER_TIMEOUT):
                    while got < others:
                        data = await answers.get()
                        got += 1
                        try:
                            total.registry.merge(json.loads(data))
                            reporting += 1
                        except (ValueError, TypeError):
                            log.warning("a worker's metrics did not decode")
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        total.registry.gauge(
            "core_metrics_workers_reporting", "Worker processes whose counts this scrape adds up (--workers)."
        ).set(reporting)
        return total.registry

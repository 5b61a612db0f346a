"""What `--metrics-http` wires together in `core serve`: the process's counters, the `--ha`
series when the node runs one, the `--workers` aggregation, and the listener (leader only)."""

from __future__ import annotations

from typing import Any

from core.metrics.ha import HaMetrics
from core.metrics.http import HttpMetrics
from core.metrics.listener import MetricsListener, parse_address
from core.metrics.process import ProcessMetrics
from core.metrics.workers import WorkerMetrics

ENV = "CORE_METRICS_HTTP"


def address(args: Any, env: Any) -> str:
    """`--metrics-http`, else CORE_METRICS_HTTP; "" when metrics are off."""
    return str(getattr(args, "metrics_http", None) or env.get(ENV) or "")


class Metrics:
    def __init__(self, app: Any, listen: str) -> None:
        self.app = app
        self.listen = listen
        self.host, self.port = parse_address(listen)  # a bad address fails before anything starts
        self.process = ProcessMetrics()
        self.ha: HaMetrics | None = None
        self.workers: WorkerMetrics | None = None
        self.listener: MetricsListener | None = None
        app.store.db.on_group = self.process.on_write_group

    def follower_env(self) -> dict[str, str]:
        return {ENV: self.listen}

    def wrap(self, asgi: Any) -> None:
        """Count and time every request the ASGI app answers (outermost: every response counts)."""
        asgi.asgi_handler = HttpMetrics(asgi.asgi_handler, self.process)

    def follow_ha(self, node: Any) -> None:
        self.ha = HaMetrics(node)
        self.ha.attach()

    async def share_with_workers(self, nc: Any, group: str, count: int, leader: bool) -> None:
        self.workers = WorkerMetrics(nc, group, count, self.process)
        if not leader:
            await self.workers.answer()

    async def start_listener(self) -> None:
        self.listener = MetricsListener(self.host, self.port, self.render)
        await self.listener.start()

    async def render(self) -> str:
        registry = await self.workers.gather() if self.workers is not None else self.process.registry
        text = registry.render()
        if self.ha is not None:
            text += (await self.ha.collect(self.app)).render()
        return text

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        if self.workers is not None:
            await self.workers.stop()

"""The metrics one process keeps: HTTP requests by route and the SQLite write groups.

The `--ha` series are not kept here: they are read from the node when scraped (core/metrics/ha.py).
"""

from __future__ import annotations

from core.metrics.registry import Registry

# writes per group commit: core/store/db.py's MAX_GROUP is 64
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class ProcessMetrics:
    def __init__(self) -> None:
        self.registry = Registry()
        self.requests = self.registry.counter(
            "core_http_requests_total",
            "HTTP requests answered, by route template, method and status class.",
            ("route", "method", "status"),
        )
        self.latency = self.registry.histogram(
            "core_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route template and method "
            "(realtime streams are counted, not timed).",
            ("route", "method"),
        )
        self.write_groups = self.registry.histogram(
            "core_sqlite_write_group_size",
            "Writes committed together in one SQLite transaction (group commit).",
            buckets=GROUP_BUCKETS,
        )

    def on_write_group(self, size: int) -> None:
        self.write_groups.observe(size)

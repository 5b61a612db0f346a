"""The ASGI middleware that counts and times requests by route template.

The label is the route as declared (`/api/collections/{collection}/records/{id}`), never the
URL as sent: ids and names in URLs would make a series per record. Requests no route matched
share one label (`unmatched`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from core.metrics.process import ProcessMetrics

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNMATCHED = "unmatched"
RECORDS = "/api/collections/{collection}/records"
RECORD = RECORDS + "/{id}"
# the record routes answered ahead of Litestar's router (core/api/_hot.py) carry no template
_RECORDS = re.compile(r"^/api/collections/[^/]+/records(/[^/]+)?$")
_STREAMS = frozenset({"/api/realtime", "/api/ds/sse"})
_TYPED_PARAM = re.compile(r"\{(\w+):[^}]*\}")


_templates: dict[str, str] = {}  # Litestar's template -> the label (a few dozen routes)
_CLASSES = tuple(f"{n}xx" for n in range(10))


def route_of(scope: Scope) -> str:
    template = scope.get("path_template")
    if template:
        label = _templates.get(template)
        if label is None:
            label = _templates[template] = _TYPED_PARAM.sub(r"{\1}", str(template))
        return label
    found = _RECORDS.match(str(scope.get("path", "")))
    if found:
        return RECORD if found.group(1) else RECORDS
    return UNMATCHED


class HttpMetrics:
    def __init__(self, app: ASGIApp, metrics: ProcessMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = route_of(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.inc(route, method, _CLASSES[(status or 500) // 100 % 10])
            if scope.get("path") not in _STREAMS:
                self.metrics.latency.observe(time.perf_counter() - started, route, method)

"""The ASGI middleware that makes every request hold a lease of the lifecycle gate.

A backup restore closes the gate: new requests wait at the door, the running ones finish, the
data is swapped and reopened, the gate opens (core/lifecycle.py). Not a route module.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Receive, Scope, Send

from core.lifecycle import lifecycle_of


class RequestGateMiddleware:
    """Holds every request behind the lifecycle gate (a restore waits for them, they wait for it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        core = getattr(getattr(scope.get("app"), "state", None), "core", None)
        if core is None or scope["type"] != "http" or _holds_no_lease(scope):
            await self.app(scope, receive, send)
            return
        async with lifecycle_of(core).lease():
            await self.app(scope, receive, send)


def _holds_no_lease(scope: Scope) -> bool:
    """Requests that must not hold a lease: SSE streams (they live for minutes) and the
    restore itself (it closes the gate and waits for the leases)."""
    path = str(scope.get("path", ""))
    if scope.get("method") == "GET":
        return path in ("/api/realtime", "/api/ds/sse")
    restore = path.startswith("/api/backups/") or path.startswith("/_/api/backups/")  # the dashboard's too
    return scope.get("method") == "POST" and restore and path.endswith("/restore")

"""The ASGI middleware that records every request in the logs (PocketBase's activity logger).

It only measures and copies a few request attributes; the entry goes to the logs service's
in-memory buffer and is written later by its flusher thread, so a request never waits on the
logs database. Error responses are small JSON documents: their `message`/`data` become the
entry's `error`/`details`. Successful `/api/logs` reads are not logged (PocketBase skips them too).

Safe to install twice (route middleware and around the whole app): the first one wins.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.logs.entry import build_entry

log = logging.getLogger("core.logs")

MAX_ERROR_BODY = 64 * 1024
STATE_KEY = "_pb_request_logged"


# Long-lived SSE streams are not logged (PocketBase skips its realtime connection too): wrapping
# every frame they send costs a quarter of the delivery time for nothing anyone reads.
STREAM_PATHS = ("/api/realtime", "/api/ds/sse")
# for those streams, the server's own `send`: once the response has started through Litestar's
# middleware (CORS headers), the frames may skip its per-message wrappers
RAW_SEND = "_core_raw_send"


def _is_stream(scope: Scope) -> bool:
    return scope.get("method") == "GET" and scope.get("path") in STREAM_PATHS


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})  # type: ignore[typeddict-item]
        if scope["type"] != "http" or state.get(STATE_KEY):
            await self.app(scope, receive, send)
            return
        if _is_stream(scope):
            state[RAW_SEND] = send
            await self.app(scope, receive, send)
            return
        state[STATE_KEY] = True
        started = time.perf_counter()
        status = 0
        body = bytearray()
        capture = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, capture
            if message["type"] == "http.response.start":
                status = int(message["status"])
                content_type = _header(message.get("headers") or [], b"content-type")
                capture = status >= 400 and content_type.startswith("application/json")
            elif message["type"] == "http.response.body" and capture and len(body) < MAX_ERROR_BODY:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            exec_ms = (time.perf_counter() - started) * 1000
            try:
                await self._record(scope, status or 500, exec_ms, bytes(body))
            except Exception:  # logging must never break a request
                log.exception("failed to record a request log")

    async def _record(self, scope: Scope, status: int, exec_ms: float, body: bytes) -> None:
        core = getattr(getattr(scope.get("app"), "state", None), "core", None)
        if core is None:
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        auth = await _auth_of(core, scope, headers)
        error = _error_of(body) if status >= 400 else None
        record_request(core, scope, headers, status, exec_ms, auth, error)


def record_request(
    core: Any,
    scope: Any,
    headers: dict[str, str],
    status: int,
    exec_ms: float,
    auth: Any,
    error: dict[str, Any] | None,
) -> None:
    """Hand one finished request to the logs service (`headers` keyed in lower case)."""
    path: str = scope.get("path", "")
    if status < 400 and (path == "/api/logs" or path.startswith("/api/logs/")):
        return
    if status < 400 and _static_page(str(scope.get("method", "")), path):
        return
    logs = core.services.get("logs")
    if logs is None:
        return
    client = scope.get("client")
    # the path as sent (still %-escaped, like Go's RequestURI()); some servers leave the
    # query string in raw_path, so cut it: the query is added back redacted
    raw_path = scope.get("raw_path") or b""
    sent_path = raw_path.split(b"?", 1)[0].decode("latin-1") or path
    entry = build_entry(
        method=str(scope.get("method", "")),
        path=sent_path,
        query=scope.get("query_string", b"").decode("latin-1"),
        status=status,
        exec_ms=exec_ms,
        headers=headers,
        remote_ip=client[0] if client else "",
        auth_collection=str(auth.collection.name) if auth is not None else "",
        auth_id=str(auth.record.get("id", "")) if auth is not None else "",
        error=error,
        settings=core.store.settings.get(),
    )
    logs.add(entry)


def _static_page(method: str, path: str) -> bool:
    """Static files and the dashboard's pages and views: PocketBase serves its dashboard with
    apis.Static, which skips the log of a successful request (errors are still logged). What
    the dashboard changes (its POSTs) is logged, as the API calls it stands for."""
    if path.startswith("/ds/static/"):
        return True
    # Litestar's router may leave "/_/" as "/_" in the scope
    return method == "GET" and (path == "/_" or path.startswith("/_/"))


def _header(headers: Any, name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return str(value.decode("latin-1")).lower()
    return ""


async def _auth_of(core: Any, scope: Scope, headers: dict[str, str]) -> Any:
    """The auth of the request: the one the handler resolved, else resolve it now."""
    auth = scope.get("state", {}).get("pb_auth", ...)
    if auth is ...:
        auth = None
        if headers.get("authorization"):
            resolved = await core.auth.resolve(headers["authorization"])
            auth = resolved[0] if resolved else None
    return auth


def _error_of(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None

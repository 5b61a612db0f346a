"""The rate limit middleware: `settings.rateLimits` applied to every API request.

Off by default. When on, each request is matched to the first rule of its labels, most specific
first: for the collection routes `<collection>:<action>` then `*:<action>` (actions as PocketBase
names them: list, view, create, update, delete, auth, authWithPassword, requestOTP, ...), then
`<METHOD> <path>` and `<path>` (rules whose label ends in "/" match as prefixes, e.g. `/api/`).
Superusers and `excludedIPs` are never limited. Over the limit: 429 "Too Many Requests.".
"""

from __future__ import annotations

import json
import re
from typing import Any

from litestar import Request
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from core.api.common import current_auth
from core.api.record_auth import client_ip
from core.app import App
from core.auth.ratelimit import Rule, applies_to, audiences_for, find_rule, ip_excluded

_COLLECTION_ROUTE = re.compile(r"^/api/collections/([^/]+)/([a-z-]+)(?:/([^/]+))?/?$")

# (method, route segment, has id) -> PocketBase's rate limit tags of that route
_TAGS: dict[tuple[str, str, bool], tuple[str, ...]] = {
    ("GET", "records", False): ("list",),
    ("GET", "records", True): ("view",),
    ("POST", "records", False): ("create",),
    ("PATCH", "records", True): ("update",),
    ("DELETE", "records", True): ("delete",),
    ("GET", "auth-methods", False): ("listAuthMethods",),
    ("POST", "auth-refresh", False): ("authRefresh",),
    ("POST", "auth-with-password", False): ("authWithPassword", "auth"),
    ("POST", "auth-with-oauth2", False): ("authWithOAuth2", "auth"),
    ("POST", "request-otp", False): ("requestOTP",),
    ("POST", "auth-with-otp", False): ("authWithOTP", "auth"),
    ("POST", "request-password-reset", False): ("requestPasswordReset",),
    ("POST", "confirm-password-reset", False): ("confirmPasswordReset",),
    ("POST", "request-verification", False): ("requestVerification",),
    ("POST", "confirm-verification", False): ("confirmVerification",),
    ("POST", "request-email-change", False): ("requestEmailChange",),
    ("POST", "confirm-email-change", False): ("confirmEmailChange",),
}

_TOO_MANY = json.dumps({"data": {}, "message": "Too Many Requests.", "status": 429}).encode()


def route_labels(app: App, method: str, path: str) -> tuple[list[str], str | None]:
    """The request's labels, and the limiter id prefix of a collection route (None otherwise)."""
    generic = [f"{method} {path}", path]
    match = _COLLECTION_ROUTE.match(path)
    if match is None:
        return generic, None
    name, segment, record_id = match.groups()
    tags = _TAGS.get((method, segment, record_id is not None))
    col = app.store.find(name) if tags else None
    if tags is None or col is None:
        return generic, None
    pattern = f"{method} /api/collections/{{collection}}/{segment}" + ("/{id}" if record_id else "")
    labels = [f"{col.name}:{t}" for t in tags] + [f"*:{t}" for t in tags] + generic
    return labels, col.id + pattern + "".join(tags)


def rate_limit_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        core: App = scope["app"].state.core
        config = core.store.settings.get().get("rateLimits") or {}
        if not config.get("enabled"):  # the default: no Request object, nothing to count
            await app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = Request(scope, receive)
        if not await _allowed(core, request, config):
            await _reject(send)
            return
        await app(scope, receive, send)

    return middleware


async def _allowed(app: App, request: Request[Any, Any, Any], config: dict[str, Any]) -> bool:
    ip = client_ip(app, request)
    if not ip or ip_excluded(ip, config.get("excludedIPs") or []):
        return True
    auth = await current_auth(request)
    if auth is not None and auth.is_superuser:
        return True
    rules = [Rule.from_json(r) for r in config.get("rules") or [] if isinstance(r, dict)]
    labels, route_id = route_labels(app, request.method, request.url.path)
    rule = find_rule(rules, labels, audiences_for(auth is not None))
    if rule is None or not applies_to(rule, auth is not None):
        return True
    limiter_id = (route_id if route_id is not None else rule.label) + rule.audience
    return app.auth.limiters.allow(limiter_id, ip, rule.max_requests, rule.duration)


async def _reject(send: Send) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 429,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_TOO_MANY)).encode()),
        ],
    }
    body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": _TOO_MANY, "more_body": False}
    await send(start)
    await send(body)


middleware = [rate_limit_middleware]
routes: list[Any] = []

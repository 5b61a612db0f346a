"""settings.rateLimits for /api/ds: each endpoint counts as the PocketBase route it stands for.

The API's rate-limit middleware labels a request by its path, so /api/ds/login would only ever
meet the generic `/api/` rule and a `*:auth` limit could be sidestepped through it. Here the
same rules are looked up with the labels of the equivalent route (`users:authWithPassword`,
`*:auth`, ...) and counted in the same limiter, under the same key.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from core.api.ratelimit import route_labels  # one label scheme for both entry points
from core.app import App
from core.auth.ratelimit import Rule, applies_to, audiences_for, find_rule, ip_excluded
from core.errors import ApiError
from core.logs.entry import real_ip
from core.store.request import Auth


def check(app: App, request: Request[Any, Any, Any], auth: Auth | None, method: str, path: str) -> None:
    """Raise PocketBase's 429 when the request exceeds the limit of `method path`."""
    config = app.store.settings.get().get("rateLimits") or {}
    if not config.get("enabled") or (auth is not None and auth.is_superuser):
        return
    remote = request.client.host if request.client else ""
    headers = {k.lower(): v for k, v in request.headers.items()}
    ip = real_ip(remote, headers, app.store.settings.get().get("trustedProxy") or {})
    if not ip or ip_excluded(ip, config.get("excludedIPs") or []):
        return
    rules = [Rule.from_json(r) for r in config.get("rules") or [] if isinstance(r, dict)]
    labels, route_id = route_labels(app, method, path)
    rule = find_rule(rules, labels, audiences_for(auth is not None))
    if rule is None or not applies_to(rule, auth is not None):
        return
    limiter_id = (route_id if route_id is not None else rule.label) + rule.audience
    if not app.auth.limiters.allow(limiter_id, ip, rule.max_requests, rule.duration):
        raise ApiError(429)

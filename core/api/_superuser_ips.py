"""`settings.superuserIPs`: when the list is not empty, superusers act only from those addresses
or subnets (PocketBase's superuserIPsWhitelist). Not a route module: the auth responses, the
protected files and the backup downloads ask it too (the middleware for every other request is
core/api/_superuser_ips_middleware.py)."""

from __future__ import annotations

from core.app import App
from core.auth.ratelimit import ip_excluded as ip_in_list
from core.errors import ApiError


def superuser_ip_allowed(app: App, ip: str) -> bool:
    allowed = app.store.settings.get().get("superuserIPs") or []
    return not allowed or ip_in_list(ip, allowed)


def require_superuser_ip(app: App, ip: str) -> None:
    """403 with PocketBase's default message, as its middleware and auth response answer."""
    if not superuser_ip_allowed(app, ip):
        raise ApiError(403)

"""The browser session: the `pb_auth` cookie, the device cookie, and the cross-site checks.

The page never sees the auth token: it lives in an HttpOnly, SameSite=Lax cookie (Secure when
the app URL is https). An `Authorization` header still wins, so scripts use /api/ds/* exactly
like PocketBase's endpoints.

Cross-site rules (the cookie rides along on requests other sites trigger):
- a write (any method but GET/HEAD) is authenticated by the cookie only when it carries the
  `Datastar-Request` header (a custom header cannot be sent cross-site without a CORS preflight,
  which our CORS config refuses for credentialed requests) AND passes the same-origin check;
  otherwise the cookie is ignored and the request runs as a guest, as PocketBase treats a bad token;
- the cookie is only set or cleared for same-origin requests, so a foreign page cannot log the
  browser into an attacker's account (login CSRF) or out of its own.

`pb_device` is a random id per browser: it lets a login in one tab reach the event streams of
the other tabs of the same browser, which still hold the cookie they were opened with.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response

from core.app import App

AUTH_COOKIE = "pb_auth"
DEVICE_COOKIE = "pb_device"
OAUTH2_COOKIE = "pb_oauth2"
DATASTAR_HEADER = "datastar-request"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEVICE_MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers keep a cookie
OAUTH2_MAX_AGE = 600


def is_datastar(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get(DATASTAR_HEADER, "").lower() == "true"


def app_url(app: App) -> str:
    """PocketBase's settings.meta.appURL, else the --app-url of the process."""
    meta = app.store.settings.get().get("meta") or {}
    return str(meta.get("appURL") or app.settings.app_url or "").rstrip("/")


def secure_cookies(app: App, request: Request[Any, Any, Any]) -> bool:
    return app_url(app).startswith("https://") or request.url.scheme == "https"


def public_origin(app: App, request: Request[Any, Any, Any]) -> str:
    """The origin the browser sees: the app URL's when it names this host (a TLS proxy in front
    makes the request itself look like plain http), else the request's own."""
    host = request.headers.get("host", "")
    configured = urlsplit(app_url(app))
    if configured.scheme and configured.netloc == host:
        return f"{configured.scheme}://{configured.netloc}"
    return f"{request.url.scheme}://{host}"


def same_origin(app: App, request: Request[Any, Any, Any]) -> bool:
    """False when a browser says the request comes from another site.

    Browsers send `Origin` on every POST/PATCH/DELETE, and `Sec-Fetch-Site` on everything;
    scripts and tests send neither and pass.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        parsed = urlsplit(origin)
        if not parsed.scheme or not parsed.netloc:
            return False  # "null" (sandboxed frames, some redirects) is never ours
        configured = urlsplit(app_url(app))
        return parsed.netloc == request.headers.get("host", "") or (
            parsed.scheme == configured.scheme and parsed.netloc == configured.netloc
        )
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


@dataclass
class Credentials:
    """The token a /api/ds request acts with, and where it came from."""

    token: str = ""
    from_cookie: bool = False


def credentials(app: App, request: Request[Any, Any, Any]) -> Credentials:
    header = request.headers.get("authorization", "")
    if header:
        return Credentials(header)
    cookie = request.cookies.get(AUTH_COOKIE, "")
    if not cookie:
        return Credentials()
    if request.method in SAFE_METHODS or (is_datastar(request) and same_origin(app, request)):
        return Credentials(cookie, from_cookie=True)
    return Credentials()


def device_id(request: Request[Any, Any, Any]) -> tuple[str, bool]:
    """(the browser's device id, whether it is new and must be set)."""
    current = request.cookies.get(DEVICE_COOKIE, "")
    if 16 <= len(current) <= 64 and current.isalnum():
        return current, False
    return secrets.token_hex(16), True


def set_device(app: App, request: Request[Any, Any, Any], response: Response[Any], device: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=DEVICE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(app, request),
    )


def set_auth(
    app: App, request: Request[Any, Any, Any], response: Response[Any], token: str, expires: int
) -> None:
    """The cookie lives as long as the token: the browser drops it when the token expires."""
    response.set_cookie(
        AUTH_COOKIE,
        token,
        max_age=max(expires - int(time.time()), 0),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(app, request),
    )


def clear_auth(app: App, request: Request[Any, Any, Any], response: Response[Any]) -> None:
    response.set_cookie(
        AUTH_COOKIE,
        "",
        max_age=0,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(app, request),
    )


def set_oauth2(app: App, request: Request[Any, Any, Any], response: Response[Any], value: str) -> None:
    # scoped to the endpoint that reads it: pages and other requests never carry it
    response.set_cookie(
        OAUTH2_COOKIE,
        value,
        max_age=OAUTH2_MAX_AGE if value else 0,
        path="/api/ds/auth-with-oauth2",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(app, request),
    )


def safe_redirect(target: str, default: str) -> str:
    """A local path to send the browser to after a flow; anything else (open redirect) -> default."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 0x20 for c in target):
        return default
    return target

"""The dashboard's session: the `pb_admin` cookie and the superuser guard every screen uses.

The cookie holds a `_superusers` auth token. It is HttpOnly (no script reads it), SameSite=Strict
(no other site's page or link makes the browser send it) and scoped to `/_/`, which covers the
pages and their `/_/api/*` endpoints; the REST API under `/api/` never reads it, so the API stays
bearer-token only and cookie-based CSRF cannot reach it.

CSRF defence on every state-changing request, on top of SameSite: the `Datastar-Request`
header (a custom header cannot be sent cross-site without a CORS preflight) AND the same-origin
check of `Origin`/`Sec-Fetch-Site` (core/ui/session.py, shared with /ds). A write that fails
either is refused as if signed out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response

from core.api import files
from core.api._superuser_ips import superuser_ip_allowed
from core.api.common import core_app
from core.api.record_auth import client_ip
from core.app import App
from core.errors import ApiError
from core.store.request import Auth
from core.ui import bridge
from core.ui.bridge import Result
from core.ui.session import SAFE_METHODS, is_datastar, same_origin, secure_cookies

COOKIE = "pb_admin"
COOKIE_PATH = "/_/"
LOGIN = "/_/login"
# what a write that fails the CSRF checks is told (a page of ours never sends one)
REFUSED = "This request was refused: reload the page and try again."


class NotSignedIn(Exception):
    """The request has no valid superuser session (or is a write that failed the CSRF checks)."""


def csrf_ok(app: App, request: Request[Any, Any, Any]) -> bool:
    if request.method in SAFE_METHODS:
        return True
    return is_datastar(request) and same_origin(app, request)


@dataclass
class Admin:
    """One dashboard request by a signed-in superuser: what a screen needs to act as them."""

    request: Request[Any, Any, Any]
    app: App
    token: str
    auth: Auth

    @property
    def datastar(self) -> bool:
        return is_datastar(self.request)

    async def call(
        self,
        handler: Any,
        *,
        path_params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        method: str | None = None,
        query: dict[str, str] | None = None,
        forward_body: bool = False,
    ) -> Result:
        """Run a REST API handler in-process with this superuser's token: the dashboard's only
        way to read or change anything, so the API's validation and rules apply unchanged.
        `body` None sends an empty JSON object, unless `forward_body` passes the page's own
        request body on as it came (a multipart upload)."""
        return await bridge.call(
            handler,
            self.request,
            path_params=path_params or {},
            token=self.token,
            body=None if forward_body else (body if body is not None else {}),
            method=method,
            query=query if query is not None else {},
        )

    async def file_token(self) -> str:
        """A short-lived superuser *file* token (POST /api/files/token), for the `?token=` of a
        protected record file or a backup download: the cookie never reaches /api/."""
        result = await self.call(files.file_token)
        if not result.ok:
            raise ApiError(result.status, result.message)
        return str(result.data["token"])


async def require_superuser(request: Request[Any, Any, Any]) -> Admin:
    """The guard of every screen and endpoint: the cookie's superuser, or NotSignedIn (ApiError
    403 when settings.superuserIPs does not list the client)."""
    app = core_app(request)
    token = request.cookies.get(COOKIE, "")
    if not token or not csrf_ok(app, request):
        raise NotSignedIn
    resolved = await app.auth.resolve(token)
    if resolved is None or not resolved[0].is_superuser:
        raise NotSignedIn
    auth = resolved[0]
    if not superuser_ip_allowed(app, client_ip(app, request)):
        # settings.superuserIPs holds for the dashboard as for the API (its middleware reads
        # only the Authorization header, never this cookie)
        raise ApiError(403)
    # the request log names the superuser the request acted for
    request.scope.setdefault("state", {})["pb_auth"] = auth  # type: ignore[typeddict-item]
    return Admin(request, app, token, auth)


def set_session(
    app: App, request: Request[Any, Any, Any], response: Response[Any], token: str, exp: int
) -> None:
    """The cookie lives as long as the token: the browser drops it when the token expires."""
    _cookie(app, request, response, token, max(exp - int(time.time()), 0))


def clear_session(app: App, request: Request[Any, Any, Any], response: Response[Any]) -> None:
    _cookie(app, request, response, "", 0)


def _cookie(app: App, request: Request[Any, Any, Any], response: Response[Any], value: str, age: int) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(app, request),
    )

"""One /api/ds request: its app, collection, mode, credentials and the cookie changes it makes.

Every endpoint starts with `Ds.of(request)` and ends with `ds.finish(response)`, which applies
the session changes (auth cookie, device cookie) and tells the hub, so that the other tabs of
the same browser follow a login or logout.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response

from core.api.common import core_app, read_body
from core.api.record_auth import auth_collection
from core.app import App
from core.auth import tokens
from core.errors import ApiError
from core.store.request import RequestContext, header_key
from core.store.schema import Collection
from core.ui import bridge, limits, render, session
from core.ui.bridge import Result, error_result
from core.ui.hub import Hub
from core.ui.views import Methods, Viewer, app_name, methods, viewer

log = logging.getLogger("core.ui")

SERVICE = "ui"
# errors raised before a flow runs, worded for the page
PAGE_MESSAGES = {
    401: "Please sign in again.",
    429: "Too many attempts. Please wait a moment and try again.",
}
DEFAULT_COLLECTION = "users"


def hub_of(app: App) -> Hub:
    hub = app.services.get(SERVICE)
    if hub is None:  # an App built without the lifespan hooks (some tests): a hub of its own
        hub = app.services[SERVICE] = Hub()
    return hub  # type: ignore[no-any-return]


@dataclass
class Ds:
    request: Request[Any, Any, Any]
    app: App
    collection: str
    datastar: bool
    creds: session.Credentials
    viewer: Viewer
    device: str
    new_device: bool
    _cookie_ops: list[Callable[[Response[Any]], None]] = field(default_factory=list)

    @classmethod
    async def of(cls, request: Request[Any, Any, Any]) -> Ds:
        app = core_app(request)
        creds = session.credentials(app, request)
        who = await viewer(app, creds.token)
        # the request log names the user the request acted for
        request.scope.setdefault("state", {})["pb_auth"] = who.auth  # type: ignore[typeddict-item]
        device, new_device = session.device_id(request)
        # ids work too (mail links only know the collection id); pages and URLs use the name
        param = request.query_params.get("collection") or DEFAULT_COLLECTION
        found = app.store.find(param)
        return cls(
            request=request,
            app=app,
            collection=found.name if found is not None else param,
            datastar=session.is_datastar(request),
            creds=creds,
            viewer=who,
            device=device,
            new_device=new_device,
        )

    # -- inputs ------------------------------------------------------------------------------
    def col(self) -> Collection:
        """The auth collection of `?collection=` (PocketBase's 404s otherwise)."""
        return auth_collection(self.app, self.collection)

    def check_limit(self, method: str, action: str) -> Collection:
        """`col()`, after the rate limit of the API route `<method> .../{collection}/<action>`."""
        col = self.col()
        limits.check(
            self.app, self.request, self.viewer.auth, method, f"/api/collections/{col.name}/{action}"
        )
        return col

    async def call(self, handler: Any, body: dict[str, Any] | None = None) -> Result:
        """Run an API handler of this request's collection with the session's token; `body`
        None forwards the request's own body (see bridge.call)."""
        return await bridge.call(
            handler, self.request, path_params={"collection": self.collection}, token=self.token, body=body
        )

    def methods(self) -> Methods:
        return methods(self.app, self.col())

    async def fields(self, *names: str) -> dict[str, str]:
        """The page's inputs: a posted form or (JSON) signals; strings only, "" when absent."""
        try:
            body = await read_body(self.request)
        except ApiError:
            body = {}
        out = {}
        for name in names:
            value = body.get(name)
            text = value if isinstance(value, str) else ""
            # passwords are taken as typed; stray spaces around anything else are a typo
            out[name] = text if "password" in name.lower() else text.strip()
        return out

    @property
    def token(self) -> str:
        return self.creds.token

    def request_context(self, body: dict[str, Any]) -> RequestContext:
        """What API rules see of this request, with the session's auth (cookie or header)."""
        return RequestContext(
            auth=self.viewer.auth,
            body=body,
            query=dict(self.request.query_params.items()),
            headers={header_key(k): v for k, v in self.request.headers.items()},
            method=self.request.method,
        )

    # -- session changes ---------------------------------------------------------------------
    @property
    def may_touch_cookie(self) -> bool:
        return session.same_origin(self.app, self.request)

    def sign_in(self, token: str) -> None:
        """The browser now uses `token` (its cookie, and every open tab of this browser)."""
        if not self.may_touch_cookie:
            return
        try:
            expires = int(tokens.unverified_claims(token).get("exp") or 0)
        except tokens.TokenError:
            return
        self._cookie_ops.append(lambda r: session.set_auth(self.app, self.request, r, token, expires))
        hub_of(self.app).signed_in(self.device, token)

    def sign_out(self) -> None:
        if not self.may_touch_cookie:
            return
        self._cookie_ops.append(lambda r: session.clear_auth(self.app, self.request, r))
        hub_of(self.app).signed_out(self.device)

    async def forget_dead_token(self) -> None:
        """After a write that may have rotated the tokenKey: drop a cookie that no longer works."""
        if self.creds.from_cookie and await self.app.auth.resolve(self.creds.token) is None:
            self.sign_out()

    def add_cookie_op(self, op: Callable[[Response[Any]], None]) -> None:
        self._cookie_ops.append(op)

    def finish(self, response: Response[Any]) -> Response[Any]:
        for op in self._cookie_ops:
            op(response)
        if self.new_device and self.may_touch_cookie:
            session.set_device(self.app, self.request, response, self.device)
        # answers depend on the cookie: never from a shared cache
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- rendering ---------------------------------------------------------------------------
    def context(self, **extra: Any) -> dict[str, Any]:
        """What every page and fragment template gets."""
        return {
            "collection": self.collection,
            "app_name": app_name(self.app),
            "viewer": self.viewer,
            **extra,
        }


async def run(
    request: Request[Any, Any, Any], endpoint: Callable[[Ds], Awaitable[Response[Any]]]
) -> Response[Any]:
    """Run an endpoint; errors raised outside a flow (unknown collection, 429, no auth) become
    PocketBase's JSON in plain mode and a notice on the page in Datastar mode."""
    ds = await Ds.of(request)
    try:
        return ds.finish(await endpoint(ds))
    except ApiError as exc:
        if not ds.datastar:
            return ds.finish(error_result(exc).response)
        return ds.finish(render.notice_response(PAGE_MESSAGES.get(exc.status, exc.message), error=True))
    except Exception:
        if not ds.datastar:
            raise
        log.exception("ui: %s %s failed", request.method, request.url.path)
        return ds.finish(render.notice_response("Something went wrong. Please try again.", error=True))


def result_token(result: Result) -> str:
    data = result.data if isinstance(result.data, dict) else {}
    token = data.get("token")
    return token if result.ok and isinstance(token, str) else ""

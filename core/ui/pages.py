"""The account pages (GET /ds...) and the static files (the /_/ mail-link forwarder is core/admin/home.py).

Pages are rendered for the browser's current session (cookie), so they are right before any
script runs; Datastar then keeps them current through /api/ds/sse and the form posts.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

from litestar import Request, Response, get

from core.ui import session
from core.ui.context import Ds
from core.ui.paths import static_files
from core.ui.templates import action, render
from core.ui.views import methods, settings_view, signup_view

HTML = "text/html"  # Litestar adds "; charset=utf-8" to text types
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
BYE = "Your account has been deleted."


async def _page(
    request: Request[Any, Any, Any], template: str, title: str, page: str, **extra: Any
) -> Response[str]:
    ds = await Ds.of(request)
    if page == "settings" and ds.viewer.auth is not None:
        # the settings of the signed-in record, whatever collection the link named
        ds.collection = ds.viewer.auth.collection.name
    col = ds.app.store.find(ds.collection)
    if col is None or not col.is_auth:
        context = ds.context(
            title="Not found",
            signals_json=json.dumps(ds.viewer.signals()),
            stream_action=_stream(ds, page),
            message=f"There is no auth collection named {ds.collection!r}.",
        )
        body = render("not_found.html", **context)
        return ds.finish(Response(body, status_code=404, media_type=HTML, headers=PAGE_HEADERS))
    context = ds.context(
        title=title,
        signals_json=json.dumps(ds.viewer.signals()),
        stream_action=_stream(ds, page),
        methods=methods(ds.app, col),
        **extra,
    )
    if page == "settings":
        context.update(await settings_view(ds.app, ds.viewer))
    elif page == "signup":
        context.update(signup_view(col))
    response: Response[str] = Response(render(template, **context), media_type=HTML, headers=PAGE_HEADERS)
    return ds.finish(response)


def _stream(ds: Ds, page: str) -> str:
    # form-encoded GET: the stream's URL carries no signals; kept open in hidden tabs too, so
    # every open tab follows the session
    return action("get", "/api/ds/sse", ds.collection, query={"page": page}, openWhenHidden=True)


def _redirect_param(request: Request[Any, Any, Any]) -> str:
    return session.safe_redirect(request.query_params.get("redirect", ""), "")


@get("/ds")
async def index_page(request: Request[Any, Any, Any]) -> Response[str]:
    bye = request.query_params.get("bye") == "1"
    return await _page(
        request,
        "auth_index.html",
        "Sign in",
        "index",
        redirect=_redirect_param(request),
        text=BYE if bye else "",
    )


@get("/ds/callback")
async def callback_page(request: Request[Any, Any, Any]) -> Response[str]:
    q = request.query_params
    return await _page(
        request,
        "auth_callback.html",
        "Signing in",
        "callback",
        code=q.get("code", ""),
        state=q.get("state", ""),
        provider_error=q.get("error", ""),
        # the code is single use, but it has no business in the address bar or history
        secret_params="code state",
    )


@get("/ds/signup")
async def signup_page(request: Request[Any, Any, Any]) -> Response[str]:
    return await _page(request, "auth_signup.html", "Create an account", "signup")


@get("/ds/verify-email")
async def verify_email_page(request: Request[Any, Any, Any]) -> Response[str]:
    change = request.query_params.get("change") == "1"
    return await _page(
        request,
        "auth_verify_email.html",
        "Confirm your email",
        "verify",
        state="change" if change else "pending",
        token="",
    )


@get("/ds/reset")
async def reset_request_page(request: Request[Any, Any, Any]) -> Response[str]:
    return await _page(request, "auth_reset_request.html", "Reset your password", "reset")


@get("/ds/reset/confirm")
async def reset_confirm_page(request: Request[Any, Any, Any]) -> Response[str]:
    return await _page(request, "auth_reset_confirm.html", "Choose a new password", "reset-confirm", token="")


@get("/ds/settings")
async def settings_page(request: Request[Any, Any, Any]) -> Response[str]:
    return await _page(request, "auth_settings.html", "Account settings", "settings", main_class="wide")


@get("/ds/static/{name:str}")
async def static_file(request: Request[Any, Any, Any]) -> Response[bytes]:
    name = request.path_params["name"]
    files = static_files()
    path = files.get(name)
    if path is None:
        return Response(b"", status_code=404)
    media_type = mimetypes.guess_type(name)[0] or "text/plain"
    if name.endswith(".LICENSE"):
        media_type = "text/plain"
    # URLs carry the content hash (?v=), so a file may be cached for good
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
    return Response(path.read_bytes(), media_type=media_type, headers=headers)


routes = [
    index_page,
    callback_page,
    signup_page,
    verify_email_page,
    reset_request_page,
    reset_confirm_page,
    settings_page,
    static_file,
]

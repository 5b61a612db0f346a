"""First run: create the first superuser from the browser (GET /_/install, POST /_/api/install).

Open only while `_superusers` is empty, and then only to a browser on this machine (a loopback
peer, a loopback Host and no proxy headers: a reverse proxy on the same host must not make the
internet look local) or to whoever holds the one-time link `core serve` prints, as PocketBase
prints its `/_/#/pbinstall/{token}` link (apis/installer.go). Unlike PocketBase no placeholder
superuser is created: the link carries a random token kept in the data dir's run directory
(mode 0600, so every worker process sees it), valid 30 minutes and spent on use.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, get, post

from core import superusers
from core.admin.forms import FormErrors, flat_errors, read_form
from core.admin.screen import base_context, html
from core.admin.session import REFUSED, csrf_ok, set_session
from core.api import record_auth
from core.api.common import core_app
from core.app import App
from core.auth import tokens
from core.errors import ApiError
from core.store.shared import run_dir
from core.ui import bridge
from core.ui import render as ds_render
from core.ui.context import result_token
from core.ui.templates import render

PAGE = "/_/install"
FORM = "admin/partials/install_form.html"
TOKEN_FILE = "admin-install-token"
LIFETIME_S = 30 * 60
PROXY_HEADERS = (
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-real-ip",
    "fly-client-ip",
    "cf-connecting-ip",
)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def needed(app: App) -> bool:
    return superusers.count(app.store) == 0


def _token_path(app: App) -> Path:
    return run_dir(app.settings.pb_dir) / TOKEN_FILE


def issue(app: App) -> str:
    """A new one-time token (replacing any older one)."""
    token = secrets.token_urlsafe(32)
    path = _token_path(app)
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_text(f"{token}\n{int(time.time()) + LIFETIME_S}\n")
    return token


def token_valid(app: App, token: str) -> bool:
    try:
        stored, expires = _token_path(app).read_text().split()
    except (OSError, ValueError):
        return False
    return bool(token) and int(expires) > time.time() and hmac.compare_digest(stored, token)


def spend(app: App) -> None:
    _token_path(app).unlink(missing_ok=True)


def is_local(request: Request[Any, Any, Any]) -> bool:
    """A browser on this machine talking to this process directly."""
    peer = request.client.host if request.client else ""
    try:
        if not ipaddress.ip_address(peer).is_loopback:
            return False
    except ValueError:
        return False
    if any(h in request.headers for h in PROXY_HEADERS):
        return False
    host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
    return host in LOCAL_HOSTS


async def on_startup(app: App) -> None:
    if app.settings.worker != 0 or not needed(app):
        return
    token = issue(app)
    # the terminal of whoever started the server, like PocketBase's installer link; never the log
    print(
        "\n(!) No superuser yet. Open this link (valid 30 minutes, once) to create the first one:\n"
        f"{app.settings.public_url}/_/#/pbinstall/{token}\n"
        "(or run: core superuser upsert EMAIL PASS)\n",
        flush=True,
    )


@get(PAGE)
async def install_page(request: Request[Any, Any, Any]) -> Response[Any]:
    app = core_app(request)
    if not needed(app):
        return Response(b"", status_code=303, headers={"Location": "/_/login"})
    return install_screen(request)


def install_screen(request: Request[Any, Any, Any]) -> Response[Any]:
    """The first-run form (the fragment's token, if any, is copied into it by admin.js)."""
    context = base_context(
        core_app(request),
        title="Create the first superuser",
        values={},
        errors={},
        error="",
        local=is_local(request),
    )
    return html(render("admin/install.html", **context), headers={"Referrer-Policy": "no-referrer"})


@post("/_/api/install", status_code=200)
async def install(request: Request[Any, Any, Any]) -> Response[Any]:
    app = core_app(request)
    if not csrf_ok(app, request):
        return ds_render.notice_response(REFUSED, error=True)
    try:
        body = await read_form(request)
    except ApiError as exc:
        return ds_render.notice_response(exc.message, error=True)
    f = {k: str(body.get(k) or "") for k in ("email", "password", "passwordConfirm", "token")}
    f["email"] = f["email"].strip()
    local = is_local(request)
    if not needed(app):
        return ds_render.respond(ds_render.redirect("/_/login"))
    if not local and not token_valid(app, f["token"]):
        return _form(
            app,
            local,
            f,
            FormErrors(
                message="Open the one-time link that `core serve` printed, or use this page from the server itself."
            ),
        )
    if f["password"] != f["passwordConfirm"]:
        return _form(
            app, local, f, FormErrors({"passwordConfirm": "Values don't match."}, "Failed to create record.")
        )
    try:
        # off the event loop: the write hashes the password
        await asyncio.to_thread(superusers.upsert, app.store, f["email"], f["password"], first=True)
    except superusers.SuperuserError as exc:
        cause = exc.__context__
        if isinstance(cause, ApiError):
            return _form(app, local, f, FormErrors(flat_errors(cause.data), cause.message))
        return _form(app, local, f, FormErrors(message=str(exc)))
    spend(app)
    # signed straight in, through the same auth handler as the sign-in screen
    result = await bridge.call(
        record_auth.auth_with_password,
        request,
        path_params={"collection": superusers.SUPERUSERS},
        token="",
        body={"identity": f["email"], "password": f["password"]},
    )
    response = ds_render.respond(ds_render.redirect("/_/"))
    token = result_token(result)
    if token:
        set_session(app, request, response, token, int(tokens.unverified_claims(token).get("exp") or 0))
    return response


def _form(app: App, local: bool, f: dict[str, str], errors: FormErrors) -> Response[Any]:
    values = {"email": f["email"], "token": f["token"]}
    context = base_context(app, values=values, errors=errors.fields, error=errors.message, local=local)
    return ds_render.respond(ds_render.merge(FORM, **context))


routes = [install_page, install]

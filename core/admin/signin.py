"""Superuser sign-in: GET /_/login and its endpoints under /_/api/ (password, one-time code,
and both in turn when the `_superusers` collection enables MFA), plus sign-out.

Every step runs PocketBase's own auth handler for `_superusers` through the bridge (same
checks, MFA session, OTP mail and attempt limits as the REST API) and counts against the same
rate-limit rule as the route it stands for. Only a same-origin Datastar request may set the
session cookie, so another site cannot sign the browser into anything (login CSRF).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from core.admin import install
from core.admin.forms import errors_of, read_form
from core.admin.screen import LOGIN, base_context, html
from core.admin.session import REFUSED, NotSignedIn, clear_session, csrf_ok, require_superuser, set_session
from core.api import record_auth, record_auth_otp
from core.api.common import core_app
from core.app import App
from core.auth import tokens
from core.errors import ApiError
from core.superusers import SUPERUSERS
from core.ui import bridge, limits
from core.ui import render as ds_render
from core.ui.bridge import Result
from core.ui.context import result_token
from core.ui.session import safe_redirect
from core.ui.signin import mfa_id_of
from core.ui.templates import render
from core.ui.views import methods

FORM = "admin/partials/signin.html"
HOME = "/_/"
TOO_MANY = "Too many attempts. Please wait a moment and try again."


def _next(value: str) -> str:
    target = safe_redirect(value, HOME)
    return target if target.startswith("/_/") else HOME


def login_context(app: App, **extra: Any) -> dict[str, Any]:
    col = app.store.find(SUPERUSERS)
    assert col is not None
    defaults: dict[str, Any] = {"step": "password", "values": {}, "errors": {}, "error": ""}
    return base_context(app, methods=methods(app, col), **{**defaults, **extra})


@get("/_/login")
async def login_page(request: Request[Any, Any, Any]) -> Response[Any]:
    app = core_app(request)
    nxt = _next(request.query_params.get("next", ""))
    try:
        await require_superuser(request)
        return Response(b"", status_code=303, headers={"Location": nxt})
    except NotSignedIn:
        pass
    if install.needed(app):
        return Response(b"", status_code=303, headers={"Location": install.PAGE})
    return html(render("admin/login.html", **login_context(app, title="Sign in", next=nxt)))


async def _fields(request: Request[Any, Any, Any], *names: str) -> dict[str, str]:
    body = await read_form(request)
    out = {}
    for name in names:
        value = body.get(name)
        text = value if isinstance(value, str) else ""
        out[name] = text if name == "password" else text.strip()
    return out


async def _run(request: Request[Any, Any, Any], handler: Any, action: str, body: dict[str, Any]) -> Result:
    app = core_app(request)
    limits.check(app, request, None, "POST", f"/api/collections/{SUPERUSERS}/{action}")
    return await bridge.call(handler, request, path_params={"collection": SUPERUSERS}, token="", body=body)


def _with_mfa(body: dict[str, Any], mfa_id: str) -> dict[str, Any]:
    return {**body, "mfaId": mfa_id} if mfa_id else body


async def _answer(
    request: Request[Any, Any, Any], result: Result, *, step: str, values: dict[str, str], nxt: str
) -> Response[Any]:
    """Signed in: cookie and off to `nxt`. MFA: the other method's step. Else the step again,
    with PocketBase's errors next to the inputs."""
    app = core_app(request)
    token = result_token(result)
    if token:
        response = ds_render.respond(ds_render.redirect(nxt))
        exp = int(tokens.unverified_claims(token).get("exp") or 0)
        set_session(app, request, response, token, exp)
        return response
    mfa_id = mfa_id_of(result)
    if mfa_id:
        # the first method passed; PocketBase now wants a second one: a code mailed to the
        # account after a password (or the password after a code)
        identity = values.get("identity", "")
        if step == "password" and _email_is_identity(app) and identity:
            # PocketBase's dashboard mails the code at once when the identity is the email
            return await _send_code(request, identity, mfa_id, nxt)
        second = "otp-request" if step == "password" else "password"
        mfa_values = {**values, "mfaId": mfa_id, "email": identity if "@" in identity else ""}
        context = login_context(app, step=second, values=mfa_values, next=nxt)
        context["error"] = "One more step: confirm it is you with a second method."
        return ds_render.respond(ds_render.merge(FORM, **context))
    errors = errors_of(result, ("identity", "password", "email", "code"))
    message = TOO_MANY if result.status == 429 else errors.message
    context = login_context(app, step=step, values=values, errors=errors.fields, error=message, next=nxt)
    return ds_render.respond(ds_render.merge(FORM, **context))


async def _guarded(request: Request[Any, Any, Any], step: Any) -> Response[Any]:
    if not csrf_ok(core_app(request), request):
        return ds_render.notice_response(REFUSED, error=True)
    try:
        response: Response[Any] = await step(request)
    except ApiError as exc:
        response = ds_render.notice_response(TOO_MANY if exc.status == 429 else exc.message, error=True)
    response.headers["Cache-Control"] = "no-store"
    return response


@post("/_/api/login", status_code=200)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _guarded(request, _login)


async def _login(request: Request[Any, Any, Any]) -> Response[Any]:
    f = await _fields(request, "identity", "password", "mfaId", "next")
    body = _with_mfa({"identity": f["identity"], "password": f["password"]}, f["mfaId"])
    result = await _run(request, record_auth.auth_with_password, "auth-with-password", body)
    values = {"identity": f["identity"], "mfaId": f["mfaId"]}
    return await _answer(request, result, step="password", values=values, nxt=_next(f["next"]))


@post("/_/api/otp/request", status_code=200)
async def otp_request(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _guarded(request, _otp_request)


async def _otp_request(request: Request[Any, Any, Any]) -> Response[Any]:
    f = await _fields(request, "email", "mfaId", "next")
    return await _send_code(request, f["email"], f["mfaId"], _next(f["next"]))


def _email_is_identity(app: App) -> bool:
    col = app.store.find(SUPERUSERS)
    fields = ((col.auth.get("passwordAuth") or {}).get("identityFields") if col else None) or ["email"]
    return list(fields) == ["email"]


async def _send_code(request: Request[Any, Any, Any], email: str, mfa_id: str, nxt: str) -> Response[Any]:
    """Request a one-time code for `email`, then show the code step (PocketBase answers the
    same whether or not the address has an account)."""
    result = await _run(request, record_auth_otp.request_otp, "request-otp", {"email": email})
    values = {"email": email, "mfaId": mfa_id}
    if not result.ok:
        return await _answer(request, result, step="otp-request", values=values, nxt=nxt)
    otp_id = str((result.data or {}).get("otpId") or "")
    context = login_context(core_app(request), step="otp-code", values={**values, "otpId": otp_id}, next=nxt)
    context["error"] = f"A one-time code was mailed to {email} if it has an account."
    return ds_render.respond(ds_render.merge(FORM, **context))


@post("/_/api/otp/auth", status_code=200)
async def otp_auth(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _guarded(request, _otp_auth)


async def _otp_auth(request: Request[Any, Any, Any]) -> Response[Any]:
    f = await _fields(request, "otpId", "code", "email", "mfaId", "next")
    body = _with_mfa({"otpId": f["otpId"], "password": f["code"]}, f["mfaId"])
    result = await _run(request, record_auth_otp.auth_with_otp, "auth-with-otp", body)
    values = {"otpId": f["otpId"], "email": f["email"], "mfaId": f["mfaId"]}
    return await _answer(request, result, step="otp-code", values=values, nxt=_next(f["next"]))


@post("/_/api/logout", status_code=200)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _guarded(request, _logout)


async def _logout(request: Request[Any, Any, Any]) -> Response[Any]:
    response = ds_render.respond(ds_render.redirect(LOGIN))
    clear_session(core_app(request), request, response)
    return response


routes = [login_page, login, otp_request, otp_auth, logout]

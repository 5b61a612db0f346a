"""/api/ds/login, /refresh, /logout, /whoami, /impersonate: the browser session itself.

login stands for auth-with-password, refresh for auth-refresh, impersonate for
impersonate/{id}; logout and whoami have no PocketBase twin (tokens are stateless): logout
drops the cookie (204), whoami shows the session's record (401 for a guest).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from core.api import record_auth
from core.api.common import json_response, no_content, read_body
from core.auth import mfa
from core.errors import ApiError
from core.store.request import Auth
from core.store.schema import Collection
from core.ui import bridge, limits, render, signin
from core.ui.context import Ds, result_token, run
from core.ui.session import safe_redirect
from core.ui.signin import Form
from core.ui.templates import url
from core.ui.views import Viewer, viewer

LOGIN = Form(
    "partials/login_form.html",
    ("identity", "password"),
    {400: "Wrong email or password.", 403: "Signing in with a password is not enabled here."},
)
IMPERSONATE = Form(
    "partials/settings/impersonate.html",
    ("recordId", "duration"),
    {403: "Only superusers can impersonate.", 404: "No such record."},
)


def require_own_auth(ds: Ds) -> Viewer:
    """The session's record, which must belong to `?collection=` (as auth-refresh requires)."""
    auth = ds.viewer.auth
    if auth is None:
        raise ApiError(401)
    if auth.collection.name != ds.collection:
        raise ApiError(403, f"The request requires auth record from {ds.collection} collection.")
    return ds.viewer


def own_record_write(ds: Ds, method: str) -> tuple[Collection, Viewer, Auth]:
    """Collection, viewer and auth for a write on the caller's own record, counted against the
    rate-limit rule of the REST route it stands for (`METHOD …/records/{id}`)."""
    col = ds.col()
    who = require_own_auth(ds)
    auth = who.auth
    assert auth is not None
    limits.check(ds.app, ds.request, auth, method, f"/api/collections/{col.name}/records/{auth.id}")
    return col, who, auth


def with_mfa(body: dict[str, Any], mfa_id: str) -> dict[str, Any]:
    """A sign-in body carrying the pending MFA session, when there is one."""
    return {**body, "mfaId": mfa_id} if mfa_id else body


# -- login -----------------------------------------------------------------------------------
@post("/api/ds/login", status_code=200)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _login)


async def _login(ds: Ds) -> Response[Any]:
    ds.check_limit("POST", "auth-with-password")
    if not ds.datastar:
        result = await ds.call(record_auth.auth_with_password)
        return await signin.answer(
            ds, result, form=LOGIN, form_id="login-form", method=mfa.METHOD_PASSWORD, values={}
        )
    f = await ds.fields("identity", "password", "mfaId", "form", "redirect")
    body = with_mfa({"identity": f["identity"], "password": f["password"]}, f["mfaId"])
    result = await ds.call(record_auth.auth_with_password, body)
    return await signin.answer(
        ds,
        result,
        form=LOGIN,
        form_id="mfa-password" if f["form"] == "mfa-password" else "login-form",
        method=mfa.METHOD_PASSWORD,
        values={"identity": f["identity"]},
        redirect=safe_redirect(f["redirect"], ""),
        extra={"mfa_id": f["mfaId"]},
    )


# -- refresh ---------------------------------------------------------------------------------
@post("/api/ds/refresh", status_code=200)
async def refresh(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _refresh)


async def _refresh(ds: Ds) -> Response[Any]:
    ds.check_limit("POST", "auth-refresh")
    result = await ds.call(record_auth.auth_refresh, None if not ds.datastar else {})
    token = result_token(result)
    if token:
        ds.sign_in(token)
    if not ds.datastar:
        return result.response
    if not token:
        return render.respond(
            render.signals(Viewer().signals()), render.notice("You are signed out.", error=True)
        )
    who = await viewer(ds.app, token)
    return render.respond(render.signals(who.signals()), render.notice("Your session was renewed."))


# -- logout ----------------------------------------------------------------------------------
@post("/api/ds/logout", status_code=200)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _logout)


async def _logout(ds: Ds) -> Response[Any]:
    ds.sign_out()
    if not ds.datastar:
        return no_content()
    return render.respond(render.signals(Viewer().signals()), render.notice("You are signed out."))


# -- whoami ----------------------------------------------------------------------------------
@get("/api/ds/whoami")
async def whoami(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _whoami)


async def _whoami(ds: Ds) -> Response[Any]:
    if ds.datastar:
        return render.respond(render.signals(ds.viewer.signals()))
    who = require_own_auth(ds)
    return json_response({"record": who.record})


# -- impersonate -----------------------------------------------------------------------------
@post("/api/ds/impersonate", status_code=200)
async def impersonate(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _impersonate)


async def _impersonate(ds: Ds) -> Response[Any]:
    if not ds.datastar:
        # PocketBase's path parameter travels as ?recordId= (or in the body)
        record_id = ds.request.query_params.get("recordId") or str(
            (await read_body(ds.request)).get("recordId") or ""
        )
        limits.check(
            ds.app,
            ds.request,
            ds.viewer.auth,
            "POST",
            f"/api/collections/{ds.collection}/impersonate/{record_id}",
        )
        result = await bridge.call(
            record_auth.impersonate,
            ds.request,
            path_params={"collection": ds.collection, "record_id": record_id},
            token=ds.token,
        )
        return await signin.answer(
            ds, result, form=IMPERSONATE, form_id="impersonate-form", method="", values={}
        )
    f = await ds.fields("target", "recordId", "duration")
    target = f["target"] or ds.collection
    limits.check(
        ds.app, ds.request, ds.viewer.auth, "POST", f"/api/collections/{target}/impersonate/{f['recordId']}"
    )
    result = await bridge.call(
        record_auth.impersonate,
        ds.request,
        path_params={"collection": target, "record_id": f["recordId"]},
        token=ds.token,
        body={"duration": f["duration"] or "0"},
    )
    if not result.ok:
        errors, general = render.errors_of(result, IMPERSONATE.fields, dict(IMPERSONATE.messages))
        context = ds.context(
            errors=errors,
            error=general,
            collections=[c.name for c in ds.app.store.registry.all() if c.is_auth],
        )
        return render.respond(render.merge(IMPERSONATE.template, **context))
    token = result_token(result)
    ds.sign_in(token)
    who = await viewer(ds.app, token)
    return render.respond(
        render.signals(who.signals()),
        render.redirect(url("/ds/settings", target)),
    )


routes = [login, refresh, logout, whoami, impersonate]

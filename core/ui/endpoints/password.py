"""/api/ds/request-password-reset, /confirm-password-reset, /change-password.

The first two are PocketBase's password-reset endpoints. change-password stands for updating
the session's own record with `oldPassword, password, passwordConfirm` (PATCH …/records/{id}:
200 + the record). That rotates the tokenKey, which signs the record out everywhere; the
browser that made the change proved the old password, so when it is signed in through the
cookie it gets a fresh token and stays signed in (the other browsers do not).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from core.api import record_auth_password_reset
from core.api.common import json_response, read_body
from core.errors import ApiError
from core.store.record_view import FieldsSpec
from core.store.store import RecordView
from core.ui import render
from core.ui.bridge import error_result
from core.ui.context import Ds, run
from core.ui.endpoints.session import own_record_write
from core.ui.signin import TOO_MANY, Form
from core.ui.views import settings_view, viewer

REQUEST = Form("partials/reset_request.html", ("email",), {429: TOO_MANY})
CONFIRM = Form(
    "partials/reset_confirm.html",
    ("password", "passwordConfirm"),
    {"token": "This link is invalid or has expired. Ask for a new one from the sign-in page."},
)
CHANGE = Form(
    "partials/settings/password.html",
    ("oldPassword", "password", "passwordConfirm"),
    {400: "Please check the fields below."},
)
PASSWORD_FIELDS = ("oldPassword", "password", "passwordConfirm")


@post("/api/ds/request-password-reset", status_code=200)
async def request_password_reset(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _request_password_reset)


async def _request_password_reset(ds: Ds) -> Response[Any]:
    ds.check_limit("POST", "request-password-reset")
    handler = record_auth_password_reset.request_password_reset
    if not ds.datastar:
        return (await ds.call(handler)).response
    f = await ds.fields("email")
    result = await ds.call(handler, {"email": f["email"]})
    context = ds.context(values={"email": f["email"]})
    if not result.ok:
        errors, general = render.errors_of(result, REQUEST.fields, dict(REQUEST.messages))
        return render.respond(render.merge(REQUEST.template, **context, errors=errors, error=general))
    return render.respond(render.merge(REQUEST.template, **context, done=True))


@post("/api/ds/confirm-password-reset", status_code=200)
async def confirm_password_reset(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _confirm_password_reset)


async def _confirm_password_reset(ds: Ds) -> Response[Any]:
    ds.check_limit("POST", "confirm-password-reset")
    handler = record_auth_password_reset.confirm_password_reset
    if not ds.datastar:
        return (await ds.call(handler)).response
    f = await ds.fields("token", "password", "passwordConfirm")
    result = await ds.call(handler, dict(f))
    if result.ok:
        # every session of that record ended with the new tokenKey; this browser's too, if it was one
        await ds.forget_dead_token()
        return render.respond(render.merge(CONFIRM.template, **ds.context(done=True)))
    errors, general = render.errors_of(result, CONFIRM.fields, dict(CONFIRM.messages))
    # the token came from the mail link (the URL fragment): keep it in the re-rendered form
    context = ds.context(token=f["token"], errors=errors, error=general)
    return render.respond(render.merge(CONFIRM.template, **context))


@post("/api/ds/change-password", status_code=200)
async def change_password(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _change_password)


async def _change_password(ds: Ds) -> Response[Any]:
    col, who, auth = own_record_write(ds, "PATCH")
    if ds.datastar:
        body: dict[str, Any] = dict(await ds.fields(*PASSWORD_FIELDS))
        view = RecordView()
    else:
        raw = await read_body(ds.request)
        body = {k: raw[k] for k in PASSWORD_FIELDS if k in raw}
        q = ds.request.query_params
        view = RecordView(q.get("expand", ""), FieldsSpec.parse(q.get("fields", "")))
    try:
        updated = await ds.app.store.update_record(col, auth.id, body, ds.request_context(body), view)
    except ApiError as exc:
        if not ds.datastar:
            raise
        errors, general = render.errors_of(error_result(exc), CHANGE.fields, dict(CHANGE.messages))
        return render.respond(render.merge(CHANGE.template, **ds.context(errors=errors, error=general)))
    token = ""
    if ds.creds.from_cookie and ds.viewer.claims.get("refreshable") is not False:
        rule_ok = await ds.app.auth.rule_allows(
            col, auth.id, col.auth.get("authRule"), ds.request_context({}).with_context("password")
        )
        if rule_ok:
            token = ds.app.auth.issue(col, updated.raw, "auth")
            ds.sign_in(token)
    if not token:
        await ds.forget_dead_token()
    if not ds.datastar:
        return json_response(updated.presented)
    fresh = await viewer(ds.app, token)
    ds.viewer = fresh
    return render.respond(
        render.signals(fresh.signals()),
        render.merge("partials/settings_body.html", **ds.context(**await settings_view(ds.app, fresh))),
        render.notice(
            "Your password has changed. Other devices were signed out."
            if token
            else "Your password has changed. Please sign in again."
        ),
    )


routes = [request_password_reset, confirm_password_reset, change_password]

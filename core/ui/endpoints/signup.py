"""/api/ds/signup, /request-verification, /confirm-verification: a new account and its address.

signup stands for creating a record of the auth collection (POST …/records, its createRule and
validation, 200 + the record) and then asks for the verification mail, as a client would next;
the other two are PocketBase's verification endpoints.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from core.api import record_auth_verification
from core.api.common import json_response, read_body
from core.errors import ApiError
from core.store.record_view import FieldsSpec
from core.store.store import RecordView
from core.ui import bridge, render
from core.ui.bridge import error_result
from core.ui.context import Ds, run
from core.ui.signin import TOO_MANY, Form
from core.ui.views import signup_view

SIGNUP = Form(
    "partials/signup.html",
    ("email", "name", "password", "passwordConfirm"),
    {400: "Please check the fields below.", 429: TOO_MANY},
)
RESEND = Form("partials/resend.html", ("email",), {429: TOO_MANY})
TOKEN_MESSAGES: dict[int | str, str] = {"token": "This link is invalid or has expired."}


@post("/api/ds/signup", status_code=200)
async def signup(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _signup)


async def _signup(ds: Ds) -> Response[Any]:
    col = ds.check_limit("POST", "records")
    q = ds.request.query_params
    if ds.datastar:
        f = await ds.fields("email", "name", "password", "passwordConfirm")
        body: dict[str, Any] = {k: f[k] for k in ("email", "password", "passwordConfirm")}
        if f["name"] and signup_view(col)["name_field"]:
            body["name"] = f["name"]
        view = RecordView()
    else:
        body = await read_body(ds.request)  # as the records endpoint reads it, files included
        view = RecordView(q.get("expand", ""), FieldsSpec.parse(q.get("fields", "")))
    try:
        created = await ds.app.store.create_record(col, body, ds.request_context(body), view)
    except ApiError as exc:
        if not ds.datastar:
            raise
        errors, general = render.errors_of(error_result(exc), SIGNUP.fields, dict(SIGNUP.messages))
        values = {"email": str(body.get("email") or ""), "name": str(body.get("name") or "")}
        context = ds.context(values=values, errors=errors, error=general, **signup_view(col))
        return render.respond(render.merge(SIGNUP.template, **context))
    email = str(created.raw.get("email") or "")
    if email and not created.raw.get("verified"):
        # the verification mail, exactly as request-verification sends it (background, resend guard)
        await bridge.call(
            record_auth_verification.request_verification,
            ds.request,
            path_params={"collection": col.name},
            token="",
            body={"email": email},
        )
    if not ds.datastar:
        return json_response(created.presented)
    context = ds.context(values={"email": email}, done=True, **signup_view(col))
    return render.respond(render.merge(SIGNUP.template, **context))


@post("/api/ds/request-verification", status_code=200)
async def request_verification(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _request_verification)


async def _request_verification(ds: Ds) -> Response[Any]:
    ds.check_limit("POST", "request-verification")
    handler = record_auth_verification.request_verification
    if not ds.datastar:
        return (await ds.call(handler)).response
    f = await ds.fields("email", "mode")
    result = await ds.call(handler, {"email": f["email"]})
    mode = "ask" if f["mode"] == "ask" else "hidden"
    context = ds.context(values={"email": f["email"]}, mode=mode, label="Send the link again")
    if not result.ok:
        # a known address sits in a hidden input: its errors go to the form's message
        inline = RESEND.fields if mode == "ask" else ()
        errors, general = render.errors_of(result, inline, dict(RESEND.messages))
        return render.respond(render.merge(RESEND.template, **context, errors=errors, error=general))
    return render.respond(render.merge(RESEND.template, **context, sent=True))


@post("/api/ds/confirm-verification", status_code=200)
async def confirm_verification(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _confirm_verification)


async def _confirm_verification(ds: Ds) -> Response[Any]:
    ds.check_limit("POST", "confirm-verification")
    handler = record_auth_verification.confirm_verification
    if not ds.datastar:
        return (await ds.call(handler)).response
    f = await ds.fields("token")
    result = await ds.call(handler, {"token": f["token"]})
    if result.ok:
        return render.respond(render.merge("partials/verify.html", **ds.context(state="verified")))
    _, general = render.errors_of(result, (), TOKEN_MESSAGES)
    if not f["token"]:
        general = "This page needs the link from your email."
    return render.respond(render.merge("partials/verify.html", **ds.context(state="failed", error=general)))


routes = [signup, request_verification, confirm_verification]

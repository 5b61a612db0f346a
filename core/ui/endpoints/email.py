"""/api/ds/request-email-change and /confirm-email-change: PocketBase's email change flow.

The request needs the session (it mails a link to the NEW address, synchronously); confirming
needs the token from that link and the current password, and ends every session of the record
(new tokenKey), so the page asks to sign in again.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from core.api import record_auth_email_change
from core.ui import render
from core.ui.context import Ds, run
from core.ui.signin import TOO_MANY, Form

REQUEST = Form(
    "partials/settings/email.html",
    ("newEmail",),
    {
        401: "Please sign in again.",
        400: "We could not send the confirmation mail. Please try again later.",
        429: TOO_MANY,
    },
)
CONFIRM = Form(
    "partials/verify.html",
    ("password",),
    {"token": "This link is invalid or has expired. Ask for a new one in your account settings."},
)


@post("/api/ds/request-email-change", status_code=200)
async def request_email_change(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _request_email_change)


async def _request_email_change(ds: Ds) -> Response[Any]:
    ds.check_limit("POST", "request-email-change")
    handler = record_auth_email_change.request_email_change
    if not ds.datastar:
        return (await ds.call(handler)).response
    f = await ds.fields("newEmail")
    result = await ds.call(handler, {"newEmail": f["newEmail"]})
    if not result.ok:
        errors, general = render.errors_of(result, REQUEST.fields, dict(REQUEST.messages))
        context = ds.context(values={"newEmail": f["newEmail"]}, errors=errors, error=general)
        return render.respond(render.merge(REQUEST.template, **context))
    return render.respond(
        render.merge(REQUEST.template, **ds.context()),
        render.notice(
            f"We sent a confirmation link to {f['newEmail']}. Your email changes once you open it."
        ),
    )


@post("/api/ds/confirm-email-change", status_code=200)
async def confirm_email_change(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _confirm_email_change)


async def _confirm_email_change(ds: Ds) -> Response[Any]:
    ds.check_limit("POST", "confirm-email-change")
    handler = record_auth_email_change.confirm_email_change
    if not ds.datastar:
        return (await ds.call(handler)).response
    f = await ds.fields("token", "password")
    result = await ds.call(handler, dict(f))
    if result.ok:
        await ds.forget_dead_token()
        return render.respond(render.merge(CONFIRM.template, **ds.context(state="changed")))
    errors, general = render.errors_of(result, CONFIRM.fields, dict(CONFIRM.messages))
    context = ds.context(state="change", token=f["token"], errors=errors, error=general)
    return render.respond(render.merge(CONFIRM.template, **context))


routes = [request_email_change, confirm_email_change]

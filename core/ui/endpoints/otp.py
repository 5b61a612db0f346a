"""/api/ds/request-otp and /auth-with-otp: sign in with a code sent by email.

They stand for PocketBase's request-otp (`{otpId}`, also for unknown addresses) and
auth-with-otp (the code travels as `password`, as in PocketBase). The page's second step keeps
`otpId` in a hidden input; inside an MFA step, `mfaId` rides along.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from core.api import record_auth_otp
from core.auth import mfa
from core.ui import render, signin
from core.ui.context import Ds, run
from core.ui.endpoints.session import with_mfa
from core.ui.session import safe_redirect
from core.ui.signin import TOO_MANY, Form

REQUEST = Form(
    "partials/otp_form.html", ("email",), {403: "Signing in with a code is not enabled here.", 429: TOO_MANY}
)
CODE = Form(
    "partials/otp_form.html",
    ("password",),
    {
        400: "That code is wrong or has expired.",
        429: "Too many wrong codes. Ask for a new code and try again.",
        "otpId": "That code has expired. Ask for a new one.",
    },
)
FORMS = ("otp-form", "mfa-otp")


def _form_id(posted: str) -> str:
    return posted if posted in FORMS else FORMS[0]


@post("/api/ds/request-otp", status_code=200)
async def request_otp(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _request_otp)


async def _request_otp(ds: Ds) -> Response[Any]:
    ds.check_limit("POST", "request-otp")
    if not ds.datastar:
        result = await ds.call(record_auth_otp.request_otp)
        return result.response
    f = await ds.fields("email", "form", "mfaId", "redirect")
    result = await ds.call(record_auth_otp.request_otp, {"email": f["email"]})
    context = ds.context(
        form_id=_form_id(f["form"]),
        values={"email": f["email"]},
        mfa_id=f["mfaId"],
        redirect=safe_redirect(f["redirect"], ""),
    )
    if not result.ok:
        errors, general = render.errors_of(result, REQUEST.fields, dict(REQUEST.messages))
        return render.respond(render.merge(REQUEST.template, **context, errors=errors, error=general))
    otp_id = str((result.data or {}).get("otpId") or "")
    return render.respond(render.merge(REQUEST.template, **context, step="code", otp_id=otp_id))


@post("/api/ds/auth-with-otp", status_code=200)
async def auth_with_otp(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _auth_with_otp)


async def _auth_with_otp(ds: Ds) -> Response[Any]:
    ds.check_limit("POST", "auth-with-otp")
    if not ds.datastar:
        result = await ds.call(record_auth_otp.auth_with_otp)
        return await signin.answer(
            ds, result, form=CODE, form_id="otp-form", method=mfa.METHOD_OTP, values={}
        )
    f = await ds.fields("otpId", "password", "email", "form", "mfaId", "redirect")
    body = with_mfa({"otpId": f["otpId"], "password": f["password"]}, f["mfaId"])
    result = await ds.call(record_auth_otp.auth_with_otp, body)
    return await signin.answer(
        ds,
        result,
        form=CODE,
        form_id=_form_id(f["form"]),
        method=mfa.METHOD_OTP,
        values={"email": f["email"]},
        redirect=safe_redirect(f["redirect"], ""),
        extra={"step": "code", "otp_id": f["otpId"], "mfa_id": f["mfaId"]},
    )


routes = [request_otp, auth_with_otp]

"""One-time password login: request-otp mails a code, auth-with-otp logs in with it.

request-otp answers `{otpId}` even for an unknown address (a random id, no mail), in the same
time: the code is stored and mailed in the background; if the mail fails the OTP is deleted.
auth-with-otp allows 5 attempts per record per 3 minutes (then 429, even with the right code),
uses the code once, and marks the address verified when the code went to the record's current
email (without MFA it also replaces a password set before that proof; with MFA the password may
be the other factor and is kept).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from core.api.common import core_app, json_response
from core.api.record_auth import auth_collection, complete_auth, invalid, read_form, required
from core.api.record_auth_verification import email_errors
from core.app import App
from core.auth import mfa, otp
from core.auth.mailer import Message
from core.auth.service import random_string
from core.errors import ApiError
from core.store.fields import generate_from_pattern
from core.store.schema import Collection

OTP_DISABLED = "The collection is not configured to allow OTP authentication."
INVALID_OTP = "Invalid or expired OTP."
MAX_ATTEMPTS = 5
ATTEMPTS_WINDOW_S = 180


def _new_record_id() -> str:
    return generate_from_pattern("[a-z0-9]{15}")


@post("/api/collections/{collection:str}/request-otp", status_code=200)
async def request_otp(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    otp_cfg = col.auth.get("otp") or {}
    if not otp_cfg.get("enabled"):
        raise ApiError(403, OTP_DISABLED)
    body = await read_form(request, ("email",))
    errors = email_errors(body["email"])
    if errors:
        raise invalid(errors)
    record = await app.auth.find_by_email(col, body["email"])
    # A known and an unknown address cost the same here (the same two reads): whatever only a
    # real account needs (hashing and storing the code, rendering and sending the mail) runs
    # after the answer, so its timing does not tell whether the address has an account.
    live, newest = await otp.latest_live(app.auth, col, record["id"] if record else "")
    if record is not None and live >= otp.MAX_LIVE_CODES:
        # a flood of requests for one account: hand out the newest code again, mail nothing
        return json_response({"otpId": newest})
    otp_id = _new_record_id()  # for an unknown address: a random id that leads nowhere
    if record is not None:
        _mail_code(app, col, record, otp_id, otp.generate_code(int(otp_cfg.get("length") or 8)))
    return json_response({"otpId": otp_id})


def _mail_code(app: App, col: Collection, record: dict[str, Any], otp_id: str, code: str) -> None:
    """In the background: store the code as `otp_id`, then mail it; a failed mail drops it."""

    async def prepare() -> Message:
        await otp.create(app.auth, col, record["id"], code, otp_id)
        return app.auth.mails.otp(col, record, otp_id, code)

    async def sent() -> None:
        await otp.set_sent_to(app.auth, otp_id, str(record.get("email") or ""))

    async def failed() -> None:
        await otp.delete(app.auth, otp_id)

    app.auth.mailer.send_later(prepare, "OTP", on_success=sent, on_failure=failed)


@post("/api/collections/{collection:str}/auth-with-otp", status_code=200)
async def auth_with_otp(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    if not (col.auth.get("otp") or {}).get("enabled"):
        raise ApiError(403, OTP_DISABLED)
    body = await read_form(request, ("otpId", "password"))
    errors = required(body, "otpId", "password")
    if errors:
        raise invalid(errors)
    # every failure below is the same generic 400: nothing tells which part was wrong
    entry = await otp.find(app.auth, body["otpId"])
    if entry is None or entry.get("collectionRef") != col.id or otp.is_expired(entry, col):
        raise ApiError(400, INVALID_OTP)
    record = await app.store.load_raw(col, str(entry.get("recordRef") or ""))
    if record is None:
        raise ApiError(400, INVALID_OTP)
    # codes are short: cap the guesses per record whatever the global rate limits say
    if not app.auth.limiters.allow(f"@pb_otp_{record['id']}", "", MAX_ATTEMPTS, ATTEMPTS_WINDOW_S):
        raise ApiError(429, "Too many attempts, please try again later with a new OTP.")
    if len(body["password"]) > 71 or not otp.matches(entry, body["password"]):
        raise ApiError(400, INVALID_OTP)
    # deleting is the gate: a code works once even for two requests racing with it
    if not await otp.delete(app.auth, entry["id"]):
        raise ApiError(400, INVALID_OTP)
    sent_to = str(entry.get("sentTo") or "")
    if not record.get("verified") and sent_to and sent_to == record.get("email"):
        # the code proved the address (before any MFA step, as PocketBase 0.40 does)
        patch: dict[str, Any] = {"verified": True}
        if not (col.auth.get("mfa") or {}).get("enabled"):
            # the code alone logs in: a password set before the address was proven is replaced
            # (account pre-hijacking). With MFA on the password may be the other factor, and
            # a new one would also end the MFA session it opened.
            secret = random_string(30)
            patch.update(password=secret, passwordConfirm=secret)
        result = await app.store.update_record(col, record["id"], patch, app.auth.system_context())
        record = result.raw
    return await complete_auth(app, request, col, record, mfa.METHOD_OTP, body)


routes = [request_otp, auth_with_otp]

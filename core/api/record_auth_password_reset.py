"""Password reset: request-password-reset mails a link, confirm-password-reset sets the password.

Confirming also marks the record verified (the mail proved the address, unless the email
changed since the token was issued) and rotates tokenKey, so every token issued before, the
reset token included, stops working. Like verification, the request always answers 204.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from core.api.common import core_app, no_content
from core.api.record_auth import auth_collection, invalid, read_form, required
from core.api.record_auth_verification import email_errors
from core.errors import ApiError, validation_error
from core.store.schema import Collection

RESEND_GUARD_S = 120
MAX_PASSWORD = 255


def resend_key(col: Collection, record_id: str) -> str:
    return f"password-reset:{col.id}:{record_id}"


@post("/api/collections/{collection:str}/request-password-reset", status_code=200)
async def request_password_reset(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    if not (col.auth.get("passwordAuth") or {}).get("enabled"):
        raise ApiError(400, "The collection is not configured to allow password authentication.")
    body = await read_form(request, ("email",))
    errors = email_errors(body["email"])
    if errors:
        raise invalid(errors)
    record = await app.auth.find_by_email(col, body["email"])
    if record is None:
        return no_content()
    key = resend_key(col, record["id"])
    if app.auth.cooldowns.active(key):
        return no_content()
    app.auth.cooldowns.start(key, RESEND_GUARD_S)

    async def release() -> None:
        # PocketBase arms the guard only after a successful send: a failed one may be retried
        app.auth.cooldowns.clear(key)

    app.auth.mailer.send_background(
        app.auth.mails.password_reset(col, record), "password reset", on_failure=release
    )
    return no_content()


@post("/api/collections/{collection:str}/confirm-password-reset", status_code=200)
async def confirm_password_reset(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    body = await read_form(request, ("token", "password", "passwordConfirm"))
    errors = required(body, "token", "password", "passwordConfirm")
    found = None
    if body["token"]:
        found = await app.auth.record_for_token(col, body["token"], "passwordReset")
        if found is None:
            errors["token"] = validation_error("validation_invalid_token", "Invalid or expired token.")
    password = body["password"]
    field = col.get_field("password")
    low = max(int(field.opt("min") or 0), 1) if field is not None else 1
    if password and not low <= len(password) <= MAX_PASSWORD:
        errors["password"] = validation_error(
            "validation_length_out_of_range",
            f"The length must be between {low} and {MAX_PASSWORD}.",
            {"max": MAX_PASSWORD, "min": low},
        )
    if body["passwordConfirm"] and body["passwordConfirm"] != password:
        errors["passwordConfirm"] = validation_error("validation_values_mismatch", "Values don't match.")
    if errors or found is None:
        raise invalid(errors)
    record, claims = found
    patch: dict[str, Any] = {"password": password, "passwordConfirm": password}
    if not record.get("verified") and claims.get("email") == record.get("email"):
        patch["verified"] = True  # the mail reached the address the record still has
    try:
        # the record layer rotates tokenKey on a password change: older tokens die with it
        await app.store.update_record(col, record["id"], patch, app.auth.system_context())
    except ApiError as exc:
        raise ApiError(400, "Failed to set new password.", exc.data) from None
    app.auth.cooldowns.clear(resend_key(col, record["id"]))
    return no_content()


routes = [request_password_reset, confirm_password_reset]

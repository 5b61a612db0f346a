"""Email change: request-email-change mails a link to the NEW address, confirm-email-change applies it.

Unlike the other flows the request sends synchronously, so the caller learns when the mail could
not be sent (400 "Failed to request email change."). Confirming needs the current password,
sets the new email, marks it verified and rotates tokenKey (older tokens stop working).
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, post

from core.api.common import core_app, no_content
from core.api.record_auth import auth_collection, invalid, read_form, require_collection_auth, required
from core.api.record_auth_verification import email_errors
from core.app import App
from core.auth import tokens
from core.auth.mailer import MailError
from core.auth.passwords import verify_password
from core.auth.service import random_string
from core.errors import ApiError, validation_error
from core.store.request import SUPERUSERS
from core.store.schema import Collection

log = logging.getLogger("core.auth")

SUPERUSERS_CHANGE_DIRECTLY = "All superusers can change their emails directly."


@post("/api/collections/{collection:str}/request-email-change", status_code=200)
async def request_email_change(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    if col.name == SUPERUSERS:
        raise ApiError(400, SUPERUSERS_CHANGE_DIRECTLY)
    auth = await require_collection_auth(request, col)
    body = await read_form(request, ("newEmail",))
    new_email = body["newEmail"]
    errors = email_errors(new_email, "newEmail")
    if not errors and new_email == auth.record.get("email"):
        errors["newEmail"] = validation_error("validation_not_in_invalid", "Must not be in list.")
    if not errors:
        taken = await app.auth.find_by_email(col, new_email)
        if taken is not None and taken["id"] != auth.id:
            errors["newEmail"] = validation_error(
                "validation_invalid_new_email", "Invalid new email address."
            )
    if errors:
        raise invalid(errors)
    try:
        await app.auth.mailer.send(app.auth.mails.email_change(col, auth.record, new_email))
    except MailError as exc:
        log.error("Failed to send email change email to %s: %s", new_email, exc)
        raise ApiError(400, "Failed to request email change.") from None
    return no_content()


@post("/api/collections/{collection:str}/confirm-email-change", status_code=200)
async def confirm_email_change(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    if col.name == SUPERUSERS:
        raise ApiError(400, SUPERUSERS_CHANGE_DIRECTLY)
    body = await read_form(request, ("token", "password"))
    errors = required(body, "token", "password")
    record: dict[str, Any] | None = None
    new_email = ""
    if body["token"]:
        record, new_email, token_error = await _parse_token(app, col, body["token"])
        if token_error:
            errors["token"] = token_error
    password = body["password"]
    if password and (
        len(password) > 100
        or record is None
        or not verify_password(str(record.get("password") or ""), password)
    ):
        errors["password"] = validation_error(
            "validation_invalid_password", "Missing or invalid auth record password."
        )
    if errors or record is None:
        raise invalid(errors)
    # a new tokenKey with the new address: every token issued for the old one is dead
    secret = random_string(50)
    try:
        await app.store.update_record(
            col,
            record["id"],
            {"email": new_email, "verified": True, "tokenKey": secret},
            app.auth.system_context(),
        )
    except ApiError as exc:
        raise ApiError(400, "Failed to confirm email change.", exc.data) from None
    return no_content()


TokenCheck = tuple[dict[str, Any] | None, str, dict[str, Any] | None]


async def _parse_token(app: App, col: Collection, token: str) -> TokenCheck:
    """(record, new email, error) of an emailChange token, checked as PocketBase checks it."""

    def fail(code: str, message: str) -> TokenCheck:
        return None, "", validation_error(code, message)

    try:
        new_email = tokens.unverified_claims(token).get("newEmail")
    except tokens.TokenError:
        new_email = None
    if not isinstance(new_email, str) or not new_email:
        return fail("validation_invalid_token_payload", "Invalid token payload - newEmail must be set.")
    # the signature first: an unverified claim must never reach a lookup by address, or a
    # forged token would tell whether that address has an account
    found = await app.auth.verify(token, "emailChange")
    if found is None:
        return fail("validation_invalid_token", "Invalid or expired token.")
    token_col, record, _ = found
    if token_col.id != col.id:
        return fail(
            "validation_token_collection_mismatch", "The provided token is for different auth collection."
        )
    # the address may have been taken since the mail was sent
    if await app.auth.find_by_email(col, new_email) is not None:
        return fail("validation_invalid_token_email", "The new email address is invalid.")
    return record, new_email, None


routes = [request_email_change, confirm_email_change]

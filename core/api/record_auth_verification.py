"""Email verification: request-verification mails a link, confirm-verification marks `verified`.

The request answers 204 whatever happens (unknown address, already verified, resend guard,
mail failure): nothing tells a caller whether an address has an account. The mail goes out in
the background and a second request for the same record within 2 minutes sends nothing.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from core.api.common import core_app, no_content
from core.api.record_auth import auth_collection, invalid, read_form, required
from core.auth import tokens
from core.auth.service import random_string
from core.errors import ApiError, validation_error
from core.store.fields.netfmt import is_email
from core.store.request import SUPERUSERS
from core.store.schema import Collection

RESEND_GUARD_S = 120


def resend_key(col: Collection, record_id: str) -> str:
    return f"verification:{col.id}:{record_id}"


def email_errors(email: str, name: str = "email") -> dict[str, Any]:
    if not email:
        return {name: validation_error("validation_required", "Cannot be blank.")}
    if len(email) > 255 or not is_email(email):
        return {name: validation_error("validation_is_email", "Must be a valid email address.")}
    return {}


@post("/api/collections/{collection:str}/request-verification", status_code=200)
async def request_verification(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    if col.name == SUPERUSERS:
        raise ApiError(400, "All superusers are verified by default.")
    body = await read_form(request, ("email",))
    errors = email_errors(body["email"])
    if errors:
        raise invalid(errors)
    record = await app.auth.find_by_email(col, body["email"])
    if record is None or record.get("verified"):
        return no_content()
    key = resend_key(col, record["id"])
    if app.auth.cooldowns.active(key):
        return no_content()
    # the guard starts now, not after the send: a burst of requests mails once
    app.auth.cooldowns.start(key, RESEND_GUARD_S)
    app.auth.mailer.send_background(app.auth.mails.verification(col, record), "verification")
    return no_content()


@post("/api/collections/{collection:str}/confirm-verification", status_code=200)
async def confirm_verification(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    if col.name == SUPERUSERS:
        raise ApiError(400, "All superusers are verified by default.")
    body = await read_form(request, ("token",))
    token = body["token"]
    if not token:
        raise invalid(required(body, "token"))
    try:
        email = tokens.unverified_claims(token).get("email")
    except tokens.TokenError:
        email = None
    if not isinstance(email, str) or not email:
        raise invalid(
            {"token": validation_error("validation_invalid_token_claims", "Missing email token claim.")}
        )
    found = await app.auth.record_for_token(col, token, "verification")
    if found is None:
        raise invalid({"token": validation_error("validation_invalid_token", "Invalid or expired token.")})
    record, _ = found
    if record.get("email") != email:
        raise invalid(
            {
                "token": validation_error(
                    "validation_token_email_mismatch",
                    "The record email doesn't match with the requested token claims.",
                )
            }
        )
    if not record.get("verified"):
        patch: dict[str, Any] = {"verified": True}
        if not (col.auth.get("passwordAuth") or {}).get("enabled"):
            # a verified address could later get password login: drop any password set before
            # the address was proven (account pre-hijacking), as PocketBase does
            secret = random_string(30)
            patch.update(password=secret, passwordConfirm=secret)
        await app.store.update_record(col, record["id"], patch, app.auth.system_context())
    app.auth.cooldowns.clear(resend_key(col, record["id"]))
    return no_content()


routes = [request_verification, confirm_verification]

"""POST /api/settings/test/email `{email, template, collection?}` (superusers only).

Sends one of the auth mails of `collection` (default `_superusers`) to `email`, built for a
dummy record, through the current SMTP settings, synchronously: the answer says whether it went
out (with the mailer's error on failure). Also owns the mailer's shutdown: background mails get
a few seconds to finish.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from core.api._helpers import read_json_object
from core.api.common import core_app, no_content, require_superuser
from core.app import App
from core.auth.mailer import MailError
from core.auth.service import random_string
from core.errors import ApiError, validation_error
from core.store.fields.netfmt import is_email
from core.store.request import SUPERUSERS
from core.store.schema import Collection
from core.store.times import now_str

FAILED = "Failed to send the test email."
TEMPLATES = ("verification", "password-reset", "email-change", "otp", "login-alert")
_TEXT_TYPES = ("text", "email", "url", "editor")


@post("/api/settings/test/email", status_code=200)
async def settings_test_email(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    app = core_app(request)
    body = await read_json_object(request, "An error occurred while loading the submitted data.")
    email, template, collection = (body.get(k) for k in ("email", "template", "collection"))
    if any(v is not None and not isinstance(v, str) for v in (email, template, collection)):
        raise ApiError(400, "An error occurred while loading the submitted data.")
    errors: dict[str, Any] = {}
    col = app.store.find(collection or SUPERUSERS)
    if collection and (col is None or not col.is_auth or len(collection) > 255):
        errors["collection"] = validation_error(
            "validation_invalid_auth_collection", "Must be a valid auth collection id or name."
        )
    if not email:
        errors["email"] = validation_error("validation_required", "Cannot be blank.")
    elif len(email) > 255 or not is_email(email):
        errors["email"] = validation_error("validation_is_email", "Must be a valid email address.")
    if not template:
        errors["template"] = validation_error("validation_required", "Cannot be blank.")
    elif template not in TEMPLATES:
        errors["template"] = validation_error("validation_in_invalid", "Must be a valid value.")
    if errors or col is None:
        raise ApiError(400, FAILED, errors)
    record = _dummy_record(col, str(email))
    mails = app.auth.mails
    message = {
        "verification": lambda: mails.verification(col, record),
        "password-reset": lambda: mails.password_reset(col, record),
        "email-change": lambda: mails.email_change(col, record, str(email)),
        "otp": lambda: mails.otp(col, record, "_PB_TEST_OTP_ID_", "123456"),
        "login-alert": lambda: mails.auth_alert(col, record, f"{now_str()} - TEST_IP TEST_USER_AGENT"),
    }[str(template)]()
    try:
        await app.auth.mailer.send(message)
    except MailError as exc:
        raise ApiError(400, f"{FAILED} Raw error: \n{exc}.") from None
    return no_content()


def _dummy_record(col: Collection, email: str) -> dict[str, Any]:
    """A record that exists only for the mail: its text fields show their own names."""
    record: dict[str, Any] = {"id": "__pb_test_id__", "tokenKey": random_string(50)}
    for f in col.fields:
        if not f.hidden and f.type in _TEXT_TYPES and f.name != "id":
            record[f.name] = f"__pb_test_{f.name}__"
    record["email"] = email
    return record


async def on_shutdown(app: App) -> None:
    await app.auth.mailer.drain(timeout=5.0)


routes = [settings_test_email]

"""/api/settings: read and patch the application settings (superusers only).

Secrets (smtp.password, s3.secret, backups.s3.secret) are stored but never sent back. The S3
settings are kept so a later S3 storage can use them; until then the S3 test explains that.
`POST /api/settings/test/email` lives with the mailer, not here.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from litestar import Request, Response, get, patch, post

from core.api._helpers import pick_fields, read_json_object
from core.api.common import core_app, json_response, require_superuser
from core.bus import settings as bus_settings
from core.errors import ApiError, validation_error
from core.store.settings import masked
from core.store.settings_schema import (
    REQUIRED,
    SettingsLoadError,
    apply_patch,
    first_error,
    length,
    min_err,
    one_of,
    required,
    validate,
)

SAVE_FAILED = "An error occurred while saving the new settings."
S3_TEST_FAILED = "Failed to test the S3 filesystem."
S3_NOT_AVAILABLE = (
    "S3 storage is not available in this server yet: the S3 settings are saved, "
    "but files and backups are kept on the local disk."
)
EVENTS_OFF = "Record events are off on this server: start it with --events (env CORE_EVENTS=true)."
APPLE_MAX_DURATION = 15777000  # ~6 months, Apple's limit for a client secret
APPLE_PRIVATE_KEY = "-----BEGIN PRIVATE KEY----"


@get("/api/settings")
async def settings_list(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    return json_response(pick_fields(request, masked(core_app(request).store.settings.get())))


@patch("/api/settings")
async def settings_update(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    body = await read_json_object(request)
    store = core_app(request).store
    try:
        new = apply_patch(store.settings.get(), body)
    except SettingsLoadError:
        raise ApiError(400, "An error occurred while loading the submitted data.") from None
    errors = validate(new)
    if body.get("webhooks") and not _events_on(request):
        errors.setdefault("webhooks", validation_error("validation_events_off", EVENTS_OFF))
    if errors:
        raise ApiError(400, SAVE_FAILED, errors)
    # the full object goes down as the "patch": lists replace and every key is set, so the
    # stored value is exactly `new` (concurrent patches serialize on the writer)
    saved = await store.update_settings(new)
    return json_response(pick_fields(request, masked(saved)))


def _events_on(request: Request[Any, Any, Any]) -> bool:
    """Webhooks are delivered from the record events stream: without it they would never fire."""
    app = core_app(request)
    events = app.services.get(bus_settings.SERVICE) or bus_settings.from_args(None, app.settings.env)
    return events.enabled


@post("/api/settings/test/s3", status_code=200)
async def settings_test_s3(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    body = await read_json_object(request)
    filesystem = body.get("filesystem", "")
    if not isinstance(filesystem, str):
        raise ApiError(400, "An error occurred while loading the submitted data.")
    error = first_error(filesystem, required, one_of("storage", "backups"))
    if error is not None:
        raise ApiError(400, S3_TEST_FAILED, {"filesystem": error})
    settings = core_app(request).store.settings.get()
    s3 = settings["backups"]["s3"] if filesystem == "backups" else settings["s3"]
    reason = S3_NOT_AVAILABLE if s3.get("enabled") else "S3 storage filesystem is not enabled."
    raise ApiError(400, f"{S3_TEST_FAILED} Raw error: \n{reason}")


@post("/api/settings/apple/generate-client-secret", status_code=200)
async def apple_client_secret(request: Request[Any, Any, Any]) -> Response[bytes]:
    """An ES256 JWT Apple accepts as the OAuth2 client secret (`forms.AppleClientSecretCreate`)."""
    await require_superuser(request)
    body = await read_json_object(request)
    form = {k: body.get(k, "") for k in ("clientId", "teamId", "keyId", "privateKey")}
    duration = body.get("duration", 0)
    if (
        not all(isinstance(v, str) for v in form.values())
        or isinstance(duration, bool)
        or not isinstance(duration, int)
    ):
        raise ApiError(400, "An error occurred while loading the submitted data.")
    errors = _apple_errors(form, duration)
    if errors:
        raise ApiError(400, "Invalid client secret data.", errors)
    now = int(time.time())
    claims = {
        "aud": ["https://appleid.apple.com"],
        "sub": form["clientId"],
        "iss": form["teamId"],
        "iat": now,
        "exp": now + duration,
    }
    try:
        secret = jwt.encode(
            claims, form["privateKey"].strip(), algorithm="ES256", headers={"kid": form["keyId"]}
        )
    except (ValueError, TypeError, jwt.PyJWTError) as e:
        raise ApiError(400, f"Failed to generate client secret. Raw error: \n{type(e).__name__}") from None
    return json_response({"secret": secret})


def _apple_errors(form: dict[str, str], duration: int) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    checks = {
        "clientId": first_error(form["clientId"], required),
        "teamId": first_error(form["teamId"], required, length(10, 10)),
        "keyId": first_error(form["keyId"], required, length(10, 10)),
        "privateKey": first_error(form["privateKey"], required, _private_key_format),
    }
    if duration == 0:
        checks["duration"] = REQUIRED
    elif duration < 1:
        checks["duration"] = min_err(1)
    elif duration > APPLE_MAX_DURATION:
        checks["duration"] = {
            "code": "validation_max_less_equal_than_required",
            "message": f"Must be no greater than {APPLE_MAX_DURATION}.",
            "params": {"threshold": APPLE_MAX_DURATION},
        }
    for key, error in sorted(checks.items()):
        if error is not None:
            errors[key] = error
    return errors


def _private_key_format(value: str) -> dict[str, Any] | None:
    # PocketBase's `-----BEGIN PRIVATE KEY----[\s\S]+-----END PRIVATE KEY-----`
    start = value.find(APPLE_PRIVATE_KEY)
    if start >= 0 and value.find("-----END PRIVATE KEY-----", start + len(APPLE_PRIVATE_KEY) + 1) >= 0:
        return None
    return {"code": "validation_match_invalid", "message": "Must be in a valid format."}


routes = [settings_list, settings_update, settings_test_s3, apple_client_secret]

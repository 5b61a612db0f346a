"""Auth endpoints of auth collections: auth-methods, auth-with-password, auth-refresh, impersonate.

Also what every auth flow shares: finding the auth collection, reading a flow's form, and
`complete_auth` (PocketBase's RecordAuthResponse): the authRule, the MFA step, the new-login
alert, then `{token, record, meta?}`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from litestar import Request, Response, get, post

from core.api._helpers import read_json_object
from core.api._superuser_ips import require_superuser_ip
from core.api.common import auth_claims, core_app, current_auth, json_response, request_context
from core.app import App
from core.auth import mfa, oauth2, origins
from core.auth.service import random_string
from core.errors import ApiError, validation_error
from core.logs.entry import real_ip
from core.store.record_query import present
from core.store.record_view import FieldsSpec
from core.store.request import Auth, RequestContext
from core.store.schema import Collection

log = logging.getLogger("core.auth")

MISSING_COLLECTION = "Missing or invalid collection context."
MISSING_AUTH_COLLECTION = "Missing or invalid auth collection context."
LOAD_FAILED = "An error occurred while loading the submitted data."
INVALID_DATA = "An error occurred while validating the submitted data."
AUTH_RULE_FAILED = "The request doesn't satisfy the collection requirements to authenticate."


def auth_collection(app: App, name: str) -> Collection:
    col = app.store.find(name)
    if col is None:
        raise ApiError(404, MISSING_COLLECTION)
    if not col.is_auth:
        raise ApiError(404, MISSING_AUTH_COLLECTION)
    return col


async def read_form(request: Request[Any, Any, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The body with the flow's string `fields` ("" when absent or null).

    A body that is not an object, or a non-string value, fails to load (400), as Go's typed
    binding does in PocketBase.
    """
    body = await read_json_object(request, LOAD_FAILED)
    for name in fields:
        value = body.get(name)
        if value is None:
            body[name] = ""
        elif not isinstance(value, str):
            raise ApiError(400, LOAD_FAILED)
    return body


def required(body: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {n: validation_error("validation_required", "Cannot be blank.") for n in names if not body.get(n)}


def invalid(errors: dict[str, Any]) -> ApiError:
    return ApiError(400, INVALID_DATA, errors)


def client_ip(app: App, request: Request[Any, Any, Any]) -> str:
    """The client's IP, honouring the settings' trusted proxy headers (PocketBase's RealIP)."""
    remote = request.client.host if request.client else ""
    trusted = app.store.settings.get().get("trustedProxy") or {}
    return real_ip(remote, {k.lower(): v for k, v in request.headers.items()}, trusted)


def _superuser_from_allowed_ip(app: App, request: Request[Any, Any, Any], col: Collection) -> None:
    if col.name == "_superusers":
        require_superuser_ip(app, client_ip(app, request))


async def auth_response(
    app: App,
    request: Request[Any, Any, Any],
    col: Collection,
    raw: dict[str, Any],
    token: str,
    meta: dict[str, Any] | None = None,
) -> Response[bytes]:
    """`{token, record, meta?}` with the record as its owner sees it."""
    _superuser_from_allowed_ip(app, request, col)
    req = RequestContext(auth=Auth(record=raw, collection=col))
    q = request.query_params
    spec = FieldsSpec.parse(q.get("fields", ""))
    items = await app.store.db.read(
        lambda conn: present(conn, col, [raw], req, app.store.find, q.get("expand", ""))
    )
    body: dict[str, Any] = {"record": items[0], "token": token}
    if meta is not None:
        body["meta"] = meta
    if spec is not None:
        body = spec.apply(body)
    return json_response(body)


async def complete_auth(
    app: App,
    request: Request[Any, Any, Any],
    col: Collection,
    raw: dict[str, Any],
    method: str,
    body: Mapping[str, Any],
    meta: dict[str, Any] | None = None,
) -> Response[bytes]:
    """Finish a successful first or second factor: authRule, MFA, new-login alert, response.

    `method` ("password", "otp", "oauth2") names the factor for MFA and alerts.
    """
    _superuser_from_allowed_ip(app, request, col)  # before the authRule and MFA, as PocketBase
    req = await request_context(request, dict(body))
    if not await app.auth.rule_allows(col, str(raw["id"]), col.auth.get("authRule"), req):
        raise ApiError(403, AUTH_RULE_FAILED)
    mfa_id = request.query_params.get("mfaId") or body.get("mfaId") or ""
    if not isinstance(mfa_id, str):
        raise ApiError(400, LOAD_FAILED)
    opened = await mfa.check(app.auth, col, raw, method, mfa_id, req)
    if opened is not None:
        return json_response({"mfaId": opened}, 401)
    if method and (col.auth.get("authAlert") or {}).get("enabled"):
        try:
            ip = client_ip(app, request)
            await origins.record_login(app.auth, col, raw, ip, request.headers.get("user-agent", ""))
        except Exception:
            # a failed alert never fails the login (PocketBase logs it too)
            log.exception("auth alert for %s/%s failed", col.name, raw.get("id"))
    return await auth_response(app, request, col, raw, app.auth.issue(col, raw, "auth"), meta)


# -- auth-methods ---------------------------------------------------------------------------------
def _provider_info(provider: oauth2.Provider, name: str) -> dict[str, Any]:
    # state and verifier are fresh on every call; the client keeps them for the exchange
    info: dict[str, Any] = {
        "name": name,
        "displayName": provider.title or name,
        "logo": "",
        "state": random_string(30),
        "codeVerifier": "",
        "codeChallenge": "",
        "codeChallengeMethod": "",
    }
    if provider.pkce:
        info["codeVerifier"] = random_string(43)
        info["codeChallenge"] = create_s256_code_challenge(info["codeVerifier"])
        info["codeChallengeMethod"] = "S256"
    # an empty redirect_uri last, so that clients append their own (URL-encoded) redirect URL
    info["authURL"] = provider.build_auth_url(info["state"], info["codeChallenge"]) + "&redirect_uri="
    info["authUrl"] = info["authURL"]
    return info


@get("/api/collections/{collection:str}/auth-methods")
async def auth_methods(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    password = col.auth.get("passwordAuth") or {}
    mfa_cfg = col.auth.get("mfa") or {}
    otp_cfg = col.auth.get("otp") or {}
    env = app.settings.env
    password_on = bool(password.get("enabled"))
    identity_fields = list(password.get("identityFields") or []) if password_on else []
    providers: list[dict[str, Any]] = []
    oauth2_on = oauth2.enabled(col, env)
    if oauth2_on:
        for cfg in oauth2.configs(col, env):
            provider = oauth2.provider(col, env, cfg["name"])
            if provider is not None:
                providers.append(_provider_info(provider, cfg["name"]))
    return json_response(
        {
            "password": {"enabled": password_on, "identityFields": identity_fields},
            "oauth2": {"enabled": oauth2_on, "providers": providers},
            "mfa": {
                "enabled": bool(mfa_cfg.get("enabled")),
                "duration": int(mfa_cfg.get("duration") or 0) if mfa_cfg.get("enabled") else 0,
            },
            "otp": {
                "enabled": bool(otp_cfg.get("enabled")),
                "duration": int(otp_cfg.get("duration") or 0) if otp_cfg.get("enabled") else 0,
            },
            # PocketBase still sends its pre-0.23 fields
            "authProviders": providers,
            "usernamePassword": password_on and "username" in identity_fields,
            "emailPassword": password_on and "email" in identity_fields,
        }
    )


# -- auth-with-password ---------------------------------------------------------------------------
@post("/api/collections/{collection:str}/auth-with-password", status_code=200)
async def auth_with_password(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    password_cfg = col.auth.get("passwordAuth") or {}
    if not password_cfg.get("enabled"):
        raise ApiError(403, "The collection is not configured to allow password authentication.")
    body = await read_form(request, ("identity", "password", "identityField"))
    errors = required(body, "identity", "password")
    identity_field = body["identityField"]
    if identity_field and identity_field not in (password_cfg.get("identityFields") or []):
        errors["identityField"] = validation_error("validation_in_invalid", "Must be a valid value.")
    if errors:
        raise invalid(errors)
    raw = await app.auth.auth_with_password(col, body["identity"], body["password"], identity_field or None)
    return await complete_auth(app, request, col, raw, mfa.METHOD_PASSWORD, body)


# -- auth-refresh ---------------------------------------------------------------------------------
@post("/api/collections/{collection:str}/auth-refresh", status_code=200)
async def auth_refresh(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    auth = await require_collection_auth(request, col)
    req = await request_context(request)
    if not await app.auth.rule_allows(col, auth.id, col.auth.get("authRule"), req):
        raise ApiError(403, AUTH_RULE_FAILED)
    claims = auth_claims(request) or {}
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else header
    if claims.get("refreshable") is False:
        new_token = token.strip()  # impersonation tokens are returned unchanged
    else:
        new_token = app.auth.issue(col, auth.record, "auth")
    return await auth_response(app, request, col, auth.record, new_token)


async def require_collection_auth(request: Request[Any, Any, Any], col: Collection) -> Auth:
    """The request's auth, which must be a record of `col` (401 guest, 403 another collection)."""
    auth = await current_auth(request)
    if auth is None:
        raise ApiError(401)
    if auth.collection.id != col.id:
        raise ApiError(403, f"The request requires auth record from {auth.collection.name} collection.")
    return auth


# -- impersonate ----------------------------------------------------------------------------------
@post("/api/collections/{collection:str}/impersonate/{record_id:str}", status_code=200)
async def impersonate(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    record_id = request.path_params["record_id"]
    app = core_app(request)
    auth = await current_auth(request)
    if auth is None:
        raise ApiError(401)
    if not auth.is_superuser:
        raise ApiError(403, "The authorized record is not allowed to perform this action.")
    col = auth_collection(app, collection)
    body = await read_json_object(request, LOAD_FAILED)
    try:
        duration = int(body.get("duration") or 0)
    except (TypeError, ValueError):
        raise invalid({"duration": validation_error("validation_invalid_value", "Must be a number.")})
    if duration < 0:
        raise invalid(
            {
                "duration": validation_error(
                    "validation_min_greater_equal_than_required", "Must be no less than 0."
                )
            }
        )
    raw = await app.store.load_raw(col, record_id)
    if raw is None:
        raise ApiError(404)
    token = app.auth.issue(col, raw, "auth", duration=duration or None, extra={"refreshable": False})
    return await auth_response(app, request, col, raw, token)


routes = [auth_methods, auth_with_password, auth_refresh, impersonate]

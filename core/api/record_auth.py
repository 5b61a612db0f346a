"""Auth endpoints of auth collections: auth-methods, auth-with-password, auth-refresh, impersonate."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from core.api.common import auth_claims, core_app, current_auth, json_response, read_body
from core.app import App
from core.errors import ApiError
from core.store.record_query import present
from core.store.record_view import FieldsSpec
from core.store.request import Auth, RequestContext
from core.store.schema import Collection

MISSING_AUTH_COLLECTION = "Missing or invalid auth collection context."


def auth_collection(app: App, name: str) -> Collection:
    col = app.store.find(name)
    if col is None or not col.is_auth:
        raise ApiError(404, MISSING_AUTH_COLLECTION)
    return col


async def auth_response(
    app: App,
    request: Request[Any, Any, Any],
    col: Collection,
    raw: dict[str, Any],
    token: str,
    meta: dict[str, Any] | None = None,
) -> Response[bytes]:
    """`{token, record, meta?}` with the record as its owner sees it."""
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


@get("/api/collections/{collection:str}/auth-methods")
async def auth_methods(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    col = auth_collection(core_app(request), collection)
    password = col.auth.get("passwordAuth") or {}
    mfa = col.auth.get("mfa") or {}
    otp = col.auth.get("otp") or {}
    oauth2 = col.auth.get("oauth2") or {}
    return json_response(
        {
            "password": {
                "enabled": bool(password.get("enabled")),
                "identityFields": list(password.get("identityFields") or []),
            },
            "oauth2": {"enabled": bool(oauth2.get("enabled")), "providers": []},
            "mfa": {"enabled": bool(mfa.get("enabled")), "duration": int(mfa.get("duration") or 0)},
            "otp": {"enabled": bool(otp.get("enabled")), "duration": int(otp.get("duration") or 0)},
        }
    )


@post("/api/collections/{collection:str}/auth-with-password", status_code=200)
async def auth_with_password(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    app = core_app(request)
    col = auth_collection(app, collection)
    body = await read_body(request)
    identity, password = body.get("identity"), body.get("password")
    errors: dict[str, Any] = {}
    if not isinstance(identity, str) or not identity:
        errors["identity"] = {"code": "validation_required", "message": "Cannot be blank."}
    if not isinstance(password, str) or not password:
        errors["password"] = {"code": "validation_required", "message": "Cannot be blank."}
    if errors:
        raise ApiError(400, "An error occurred while validating the submitted data.", errors)
    identity_field = body.get("identityField") or None
    raw = await app.auth.auth_with_password(col, str(identity), str(password), identity_field)
    await _check_auth_rule(app, col, raw, request)
    return await auth_response(app, request, col, raw, app.auth.issue(col, raw, "auth"))


async def _check_auth_rule(
    app: App, col: Collection, raw: dict[str, Any], request: Request[Any, Any, Any]
) -> None:
    """authRule: extra conditions a record must meet to authenticate (null = nobody but via SU)."""
    from core.store.rules import record_matches

    rule = col.auth.get("authRule")
    if rule == "":
        return
    if rule is None:
        raise ApiError(403, "The collection is not configured to allow authentication.")
    req = RequestContext(
        auth=Auth(record=raw, collection=col), query=dict(request.query_params), method=request.method
    )
    from core.store.filter import compile_filter
    from core.store.rules import filter_context

    sql = compile_filter(rule, filter_context(col, req, app.store.find))
    ok = await app.store.db.read(lambda conn: record_matches(conn, col, raw["id"], sql))
    if not ok:
        raise ApiError(400, "Failed to authenticate.")


@post("/api/collections/{collection:str}/auth-refresh", status_code=200)
async def auth_refresh(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    app = core_app(request)
    col = auth_collection(app, collection)
    auth = await current_auth(request)
    if auth is None:
        raise ApiError(401)
    if auth.collection.id != col.id:
        raise ApiError(403, "The request requires valid auth record.")
    claims = auth_claims(request) or {}
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else header
    if claims.get("refreshable") is False:
        new_token = token.strip()  # impersonation tokens are returned unchanged
    else:
        new_token = app.auth.issue(col, auth.record, "auth")
    return await auth_response(app, request, col, auth.record, new_token)


@post("/api/collections/{collection:str}/impersonate/{record_id:str}", status_code=200)
async def impersonate(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    record_id = request.path_params["record_id"]
    app = core_app(request)
    auth = await current_auth(request)
    if auth is None or not auth.is_superuser:
        raise ApiError(403, "The authorized record is not allowed to perform this action.")
    col = auth_collection(app, collection)
    body = await read_body(request)
    try:
        duration = int(body.get("duration") or 0)
    except (TypeError, ValueError):
        raise ApiError(
            400,
            "An error occurred while validating the submitted data.",
            {"duration": {"code": "validation_invalid_value", "message": "Must be a number."}},
        )
    if duration < 0:
        raise ApiError(
            400,
            "An error occurred while validating the submitted data.",
            {
                "duration": {
                    "code": "validation_min_greater_equal_than_required",
                    "message": "Must be no less than 0.",
                }
            },
        )
    raw = await app.store.load_raw(col, record_id)
    if raw is None:
        raise ApiError(404)
    token = app.auth.issue(col, raw, "auth", duration=duration or None, extra={"refreshable": False})
    return await auth_response(app, request, col, raw, token)


routes = [auth_methods, auth_with_password, auth_refresh, impersonate]

"""/api/nats: NATS credentials for app users, and the per-collection permissions they carry.

`POST /api/nats/token` gives an authenticated record a short-lived user JWT of the `app`
account (with the nkey seed generated for it), for the embedded NATS server's client or
websocket port. What it may publish and subscribe to is its collection's setting, managed by
superusers under `/api/nats/permissions/{collection}`.

The permissions are not a collection option: PocketBase's collection import and the JS SDK
know only PocketBase's keys, so they live in data.db's `_params` table (row `coreNatsUsers`,
keyed by collection name; PocketBase ignores rows it does not know, and under `--ha` the row
replicates like every other write). Renaming a collection leaves its permissions behind.
"""

from __future__ import annotations

import json
import time
from typing import Any

from litestar import Request, Response, delete, get, post, put

from core.api.common import (
    auth_claims,
    core_app,
    current_auth,
    json_response,
    no_content,
    read_body,
    require_superuser,
)
from core.errors import ApiError, validation_error
from core.nats import app_users
from core.nats.auth import APP_ACCOUNT
from core.store.db import WriteContext
from core.store.times import now_str

PARAM_ID = "coreNatsUsers"


def _read_all(conn: Any) -> dict[str, Any]:
    row = conn.execute("SELECT value FROM _params WHERE id = ?", (PARAM_ID,)).fetchone()
    try:
        value = json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


async def _all_permissions(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await core_app(request).store.db.read(_read_all)


async def _change(request: Request[Any, Any, Any], name: str, value: dict[str, Any] | None) -> None:
    def op(ctx: WriteContext) -> None:
        current = _read_all(ctx.conn)
        if value is None:
            current.pop(name, None)
        else:
            current[name] = value
        now = now_str()
        ctx.conn.execute(
            "INSERT INTO _params (id, value, created, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET value = excluded.value, updated = excluded.updated",
            (PARAM_ID, json.dumps(current), now, now),
        )

    await core_app(request).store.db.write(op)


def _auth_collection(request: Request[Any, Any, Any]) -> str:
    name = str(request.path_params["collection"])
    col = core_app(request).store.find(name)
    if col is None:
        raise ApiError(404, "Missing collection context.")
    if not col.is_auth:
        raise ApiError(400, "NATS credentials are issued to records of auth collections only.")
    return col.name


@get("/api/nats/permissions")
async def permissions_list(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    return json_response(await _all_permissions(request))


@get("/api/nats/permissions/{collection:str}")
async def permissions_view(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    name = _auth_collection(request)
    found = (await _all_permissions(request)).get(name)
    if found is None:
        raise ApiError(404, "The collection has no NATS permissions.")
    return json_response(found)


@put("/api/nats/permissions/{collection:str}")
async def permissions_set(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    name = _auth_collection(request)
    body = await read_body(request)
    try:
        permissions = app_users.parse_permissions(body)
    except app_users.InvalidPermission as exc:
        error = validation_error("validation_invalid_subject", str(exc))
        data = {exc.field: error} if exc.field else {}
        raise ApiError(400, "Failed to save the NATS permissions.", data) from None
    await _change(request, name, permissions.to_json())
    return json_response(permissions.to_json())


@delete("/api/nats/permissions/{collection:str}", status_code=200)
async def permissions_delete(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    await _change(request, _auth_collection(request), None)
    return no_content()


@post("/api/nats/token")
async def nats_token(request: Request[Any, Any, Any]) -> Response[bytes]:
    auth = await current_auth(request)
    if auth is None:
        raise ApiError(401, "The request requires valid record authorization token.")
    nats_service: Any = core_app(request).services.get("nats")
    bundle = getattr(nats_service, "bundle", None)
    if nats_service is None or bundle is None or APP_ACCOUNT not in bundle.accounts:
        raise ApiError(400, "NATS credentials are not available on this server.")
    stored = (await _all_permissions(request)).get(auth.collection.name)
    if stored is None:
        raise ApiError(403, "NATS access is not enabled for this collection.")
    permissions = app_users.parse_permissions(stored)
    now = int(time.time())
    exp = (auth_claims(request) or {}).get("exp")
    ttl = app_users.lifetime(int(exp) if exp else None, nats_service.settings.token_ttl, now=now)
    if ttl <= 0:
        raise ApiError(401, "The request requires valid record authorization token.")
    try:
        issued = app_users.issue(
            bundle.accounts[APP_ACCOUNT].seed,
            permissions,
            record_id=auth.id,
            collection_name=auth.collection.name,
            expires_in=ttl,
            now=now,
        )
    except ValueError:
        raise ApiError(400, "The record id or collection name cannot be part of a NATS subject.") from None
    return json_response({"jwt": issued.jwt, "seed": issued.seed, "expires": now + ttl})


routes = [permissions_list, permissions_view, permissions_set, permissions_delete, nats_token]

"""/api/collections: superuser-only management of collections."""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

from litestar import Request, Response, delete, get, patch, post, put

from core.api.common import core_app, json_response, no_content, read_body, require_superuser
from core.errors import ApiError
from core.store.collections import normalize_new_collection
from core.store.schema import Collection, auth_defaults


def _json(col: Collection) -> dict[str, Any]:
    return col.to_json()


@get("/api/collections")
async def list_collections(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    q = request.query_params
    items = [c.to_json() for c in core_app(request).store.registry.all()]
    flt = q.get("filter", "").strip()
    if flt:
        items = _simple_filter(items, flt)
    sort = q.get("sort", "").strip()
    for key in reversed([s.strip() for s in sort.split(",") if s.strip()]):
        desc = key.startswith("-")
        name = key.lstrip("+-")
        if name not in ("id", "name", "type", "created", "updated", "system"):
            raise ApiError(400)
        items.sort(key=partial(_sort_key, name), reverse=desc)
    try:
        page = max(int(q.get("page", 1) or 1), 1)
        per_page = int(q.get("perPage", 30) or 30)
    except ValueError:
        page, per_page = 1, 30
    per_page = 30 if per_page <= 0 else min(per_page, 1000)
    total = len(items)
    chunk = items[(page - 1) * per_page : page * per_page]
    skip = q.get("skipTotal", "").lower() in ("1", "true")
    return json_response(
        {
            "items": chunk,
            "page": page,
            "perPage": per_page,
            "totalItems": -1 if skip else total,
            "totalPages": -1 if skip else (total + per_page - 1) // per_page,
        }
    )


def _sort_key(name: str, item: dict[str, Any]) -> str:
    return str(item.get(name))


def _simple_filter(items: list[dict[str, Any]], flt: str) -> list[dict[str, Any]]:
    """Collections are few; support the `name = 'x'`, `type = 'auth'`, `system = false` forms the SDK uses."""
    import re

    out = items
    for part in re.split(r"\s*&&\s*", flt):
        m = re.match(r"^\s*(\w+)\s*(=|!=|~)\s*(?:'([^']*)'|\"([^\"]*)\"|(true|false))\s*$", part)
        if not m:
            raise ApiError(400)
        key, op, v1, v2, vb = m.groups()
        value: Any = v1 if v1 is not None else v2
        if vb is not None:
            value = vb == "true"
        if op == "=":
            out = [i for i in out if i.get(key) == value]
        elif op == "!=":
            out = [i for i in out if i.get(key) != value]
        else:
            out = [i for i in out if str(value).lower() in str(i.get(key, "")).lower()]
    return out


@post("/api/collections", status_code=200)
async def create_collection(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    body = await read_body(request)
    col = await core_app(request).store.create_collection(body)
    return json_response(_json(col))


@get("/api/collections/meta/scaffolds")
async def scaffolds(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    out: dict[str, Any] = {}
    for type_ in ("auth", "base", "view"):
        col = Collection(name="", type=type_, id="")
        col.id = ""
        if type_ == "auth":
            col.auth = auth_defaults()
        normalize_new_collection(col)
        data = col.to_json()
        if type_ == "auth":
            data["indexes"] = [
                "CREATE UNIQUE INDEX `idx_tokenKey__pbc_` ON `` (`tokenKey`)",
                "CREATE UNIQUE INDEX `idx_email__pbc_` ON `` (`email`) WHERE `email` != ''",
            ]
        out[type_] = data
    return json_response(out)


@get("/api/collections/meta/oauth2-providers")
async def oauth2_providers(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    return json_response([])


@put("/api/collections/import", status_code=200)
async def import_collections(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    body = await read_body(request)
    items = body.get("collections")
    if not isinstance(items, list) or not items:
        raise ApiError(
            400,
            "Failed to import collections.",
            {"collections": {"code": "validation_required", "message": "Cannot be blank."}},
        )
    await core_app(request).store.import_collections(copy.deepcopy(items), bool(body.get("deleteMissing")))
    return no_content()


@get("/api/collections/{collection:str}")
async def view_collection(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    await require_superuser(request)
    col = core_app(request).store.collection_or_404(collection, "The requested resource wasn't found.")
    return json_response(_json(col))


@patch("/api/collections/{collection:str}")
async def update_collection(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    await require_superuser(request)
    body = await read_body(request)
    col = await core_app(request).store.update_collection(collection, body)
    return json_response(_json(col))


@delete("/api/collections/{collection:str}", status_code=200)
async def delete_collection(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    await require_superuser(request)
    await core_app(request).store.delete_collection(collection)
    return no_content()


@delete("/api/collections/{collection:str}/truncate", status_code=200)
async def truncate_collection(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    await require_superuser(request)
    await core_app(request).store.truncate_collection(collection)
    return no_content()


routes = [
    list_collections,
    create_collection,
    scaffolds,
    oauth2_providers,
    import_collections,
    view_collection,
    update_collection,
    delete_collection,
    truncate_collection,
]

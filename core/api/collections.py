"""/api/collections: superuser-only management of collections."""

from __future__ import annotations

import copy
from typing import Any

from litestar import Request, Response, delete, get, patch, post, put

from core.api._helpers import pick_fields
from core.api.common import core_app, json_response, no_content, read_body, require_superuser
from core.auth import oauth2
from core.errors import ApiError
from core.store.collections import normalize_new_collection, search_collections
from core.store.record_query import ListParams
from core.store.schema import Collection, auth_defaults


def _json(col: Collection) -> dict[str, Any]:
    return col.to_json()


@get("/api/collections")
async def list_collections(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    params = ListParams.from_query(request.query_params)
    page = await core_app(request).store.db.read(lambda conn: search_collections(conn, params))
    return json_response(pick_fields(request, page))


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
    return json_response(oauth2.listing())


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

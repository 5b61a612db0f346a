"""/api/collections/{collection}/records: list, view, create, update, delete."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, patch, post

from core.api._body import record_body_limit
from core.api.common import core_app, json_response, no_content, read_body, request_context
from core.app import App
from core.store.record_query import ListParams
from core.store.record_view import FieldsSpec
from core.store.schema import Collection
from core.store.store import RecordView

MISSING_COLLECTION = "Missing collection context."


def _collection(app: App, name: str) -> Collection:
    return app.store.collection_or_404(name, MISSING_COLLECTION)


@get("/api/collections/{collection:str}/records")
async def list_records(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    app = core_app(request)
    col = _collection(app, collection)
    req = await request_context(request)
    params = ListParams.from_query(req.query)
    return json_response(await app.store.list_records(col, params, req))


@get("/api/collections/{collection:str}/records/{record_id:str}")
async def view_record(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    record_id = request.path_params["record_id"]
    app = core_app(request)
    col = _collection(app, collection)
    req = await request_context(request)
    q = request.query_params
    return json_response(
        await app.store.view_record(col, record_id, req, q.get("expand", ""), q.get("fields", ""))
    )


def _view(request: Request[Any, Any, Any]) -> RecordView:
    q = request.query_params
    return RecordView(q.get("expand", ""), FieldsSpec.parse(q.get("fields", "")))


# the body limit depends on the collection's fields (read_body applies it while reading)
@post("/api/collections/{collection:str}/records", status_code=200, request_max_body_size=None)
async def create_record(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    app = core_app(request)
    col = _collection(app, collection)
    body = await read_body(request, record_body_limit(col))
    req = await request_context(request, body)
    result = await app.store.create_record(col, body, req, _view(request))
    return json_response(result.presented)


@patch("/api/collections/{collection:str}/records/{record_id:str}", request_max_body_size=None)
async def update_record(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    record_id = request.path_params["record_id"]
    app = core_app(request)
    col = _collection(app, collection)
    body = await read_body(request, record_body_limit(col))
    req = await request_context(request, body)
    result = await app.store.update_record(col, record_id, body, req, _view(request))
    return json_response(result.presented)


@delete("/api/collections/{collection:str}/records/{record_id:str}", status_code=200)
async def delete_record(request: Request[Any, Any, Any]) -> Response[bytes]:
    collection = request.path_params["collection"]
    record_id = request.path_params["record_id"]
    app = core_app(request)
    col = _collection(app, collection)
    req = await request_context(request)
    await app.store.delete_record(col, record_id, req)
    return no_content()


routes = [list_records, view_record, create_record, update_record, delete_record]

"""/api/collections/{collection}/records: list, view, create, update, delete."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from litestar import Request, Response, delete, get, patch, post

from core.api._body import record_body_limit
from core.api.common import core_app, json_response, no_content, read_body, request_context
from core.errors import ApiError
from core.store.record_query import ListParams
from core.store.record_view import FieldsSpec
from core.store.schema import Collection
from core.store.store import RecordView

MISSING_COLLECTION = "Missing collection context."
# create and update look the collection up first for their body limit (dynamicCollectionBodyLimit)
MISSING_WRITE_COLLECTION = "Missing or invalid collection context."
_RAW_ROUTE = re.compile(rb"/api/collections/([^/]+)/records(?:/([^/]+))?/?")
_DECODED_ROUTE = re.compile(r"/api/collections/.+/records(?:/.*)?")
_ENCODED_SLASH = re.compile(rb"%2f", re.IGNORECASE)
FILE_NOT_FOUND = "File not found."


def encoded_slash_error(scope: Mapping[str, Any]) -> ApiError | None:
    """The 404 for a record route with `%2F` in the collection or the id (`/records/ID%2F`).

    The ASGI path arrives decoded, where that slash would split the segment and Litestar would
    answer another route (the list, or the record `ID`). PocketBase routes on the raw segments,
    and no collection or record has a slash in its name or id; the messages are the binary's.
    """
    raw = scope.get("raw_path") or b""
    if b"%" not in raw or not _ENCODED_SLASH.search(raw):
        return None
    match = _RAW_ROUTE.fullmatch(raw.split(b"?", 1)[0])
    if match is None:
        # the slash is elsewhere (`/records%2FID`): decoded, the path may pass for a record route,
        # but PocketBase has none for it
        return _not_found(scope) if _DECODED_ROUTE.fullmatch(scope["path"]) else None
    if not any(p and _ENCODED_SLASH.search(p) for p in match.groups()):
        return None
    collection, record_id = (unquote_to_bytes(p) if p else None for p in match.groups())
    if collection is not None and b"/" in collection:
        return ApiError(404, FILE_NOT_FOUND if collection == b"/" else MISSING_COLLECTION)
    return _not_found(scope) if record_id == b"/" else ApiError(404)


def _not_found(scope: Mapping[str, Any]) -> ApiError:
    # the binary answers its router's "File not found." to reads, the default 404 to writes
    return ApiError(404, FILE_NOT_FOUND) if scope["method"] in ("GET", "HEAD") else ApiError(404)


def _collection(request: Request[Any, Any, Any], missing: str = MISSING_COLLECTION) -> Collection:
    rejected = encoded_slash_error(request.scope)
    if rejected is not None:  # the hot routes answer these first; this serves the reference app
        raise rejected
    return core_app(request).store.collection_or_404(request.path_params["collection"], missing)


@get("/api/collections/{collection:str}/records")
async def list_records(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = _collection(request)
    req = await request_context(request)
    params = ListParams.from_query(req.query)
    return json_response(await app.store.list_records(col, params, req))


@get("/api/collections/{collection:str}/records/{record_id:str}")
async def view_record(request: Request[Any, Any, Any]) -> Response[bytes]:
    record_id = request.path_params["record_id"]
    app = core_app(request)
    col = _collection(request)
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
    app = core_app(request)
    col = _collection(request, MISSING_WRITE_COLLECTION)
    body = await read_body(request, record_body_limit(col))
    req = await request_context(request, body)
    result = await app.store.create_record(col, body, req, _view(request))
    return json_response(result.presented)


@patch("/api/collections/{collection:str}/records/{record_id:str}", request_max_body_size=None)
async def update_record(request: Request[Any, Any, Any]) -> Response[bytes]:
    record_id = request.path_params["record_id"]
    app = core_app(request)
    col = _collection(request, MISSING_WRITE_COLLECTION)
    body = await read_body(request, record_body_limit(col))
    req = await request_context(request, body)
    result = await app.store.update_record(col, record_id, body, req, _view(request))
    return json_response(result.presented)


@delete("/api/collections/{collection:str}/records/{record_id:str}", status_code=200)
async def delete_record(request: Request[Any, Any, Any]) -> Response[bytes]:
    record_id = request.path_params["record_id"]
    app = core_app(request)
    col = _collection(request)
    req = await request_context(request)
    await app.store.delete_record(col, record_id, req)
    return no_content()


routes = [list_records, view_record, create_record, update_record, delete_record]

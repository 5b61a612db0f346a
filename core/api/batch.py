"""/api/batch: several record writes in one transaction, all or nothing (PocketBase's apis/batch.go).

Sub-requests are create (`POST …/records`), update (`PATCH …/records/{id}`), delete
(`DELETE …/records/{id}`) and upsert (`PUT …/records`: update when `body.id` exists, else create).
They run as one `Database.write`, with the batch request's auth and their own rules; the first
failing one rolls everything back and is reported by index.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request, Response, post

from core.api.common import core_app, current_auth, json_response, read_body
from core.app import App
from core.errors import ApiError
from core.store.db import WriteContext
from core.store.fields.file import UploadedFile
from core.store.record_query import load_raw, present
from core.store.record_view import FieldsSpec
from core.store.record_write import RecordWriter
from core.store.request import Auth, RequestContext, header_key

DEFAULT_MAX_BODY = 128 << 20
DEFAULT_TIMEOUT = 3.0
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_URL = 2000
_COL = r"(?P<collection>[^/?]+)"
_ID = r"(?P<id>[^/?]+)"
_QUERY = r"(?P<query>\?.*)?"
ACTIONS = (
    ("upsert", re.compile(rf"^PUT /api/collections/{_COL}/records{_QUERY}$")),
    ("create", re.compile(rf"^POST /api/collections/{_COL}/records{_QUERY}$")),
    ("update", re.compile(rf"^PATCH /api/collections/{_COL}/records/{_ID}{_QUERY}$")),
    ("delete", re.compile(rf"^DELETE /api/collections/{_COL}/records/{_ID}{_QUERY}$")),
)
# files of sub-request i: `requests.i.field` or `requests[i].field`
_FILE_KEY = re.compile(r"^requests(?:\.(\d+)\.|\[(\d+)\]\.)(.+)$")


@dataclass
class SubRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)


class SubRequestFailed(Exception):
    def __init__(self, index: int, error: ApiError) -> None:
        super().__init__(error.message)
        self.index = index
        self.error = error


@post("/api/batch", status_code=200, request_max_body_size=None)
async def batch(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    settings = app.store.settings.get().get("batch") or {}
    max_requests = int(settings.get("maxRequests") or 0)
    if not settings.get("enabled") or max_requests <= 0:
        raise ApiError(403, "Batch requests are not allowed.")
    limit = int(settings.get("maxBodySize") or 0) or DEFAULT_MAX_BODY
    subs = _parse(await _read(request, limit), max_requests)
    auth = await current_auth(request)
    base_headers = {header_key(k): v for k, v in request.headers.items()}
    timeout = float(settings.get("timeout") or 0) or DEFAULT_TIMEOUT
    try:
        results = await app.store.db.write(lambda ctx: _run(app, ctx, subs, auth, base_headers, timeout))
    except SubRequestFailed as failed:
        raise ApiError(
            400,
            "Batch transaction failed.",
            {
                "requests": {
                    str(failed.index): {
                        "code": "batch_request_failed",
                        "message": "Batch request failed.",
                        "response": failed.error.to_json(),
                    }
                }
            },
        )
    return json_response(results)


async def _read(request: Request[Any, Any, Any], limit: int) -> dict[str, Any]:
    """The body, read up to `limit` bytes: a larger one (chunked too) stops there with a 413."""
    try:
        return await read_body(request, limit)
    except ApiError as e:
        if e.status == 413:
            raise
        raise ApiError(400, "Failed to read the submitted batch data.") from None


def _parse(data: dict[str, Any], max_requests: int) -> list[SubRequest]:
    raw = data.get("requests")
    if raw is not None and not isinstance(raw, list):
        raise ApiError(400, "Failed to read the submitted batch data.")
    items = list(raw or [])
    if not items:
        raise ApiError(400, "Invalid batch request data.", {"requests": _required()})
    if len(items) > max_requests:
        raise ApiError(
            400,
            "Invalid batch request data.",
            {
                "requests": {
                    "code": "validation_length_too_long",
                    "message": f"The length must be no more than {max_requests}.",
                    "params": {"max": max_requests, "min": 0},
                }
            },
        )
    subs = [_sub_request(item) for item in items]
    _attach_files(data, subs)
    errors = {str(i): e for i, s in enumerate(subs) if (e := _validate(s))}
    if errors:
        raise ApiError(400, "Invalid batch request data.", {"requests": errors})
    return subs


def _sub_request(item: Any) -> SubRequest:
    if not isinstance(item, dict):
        raise ApiError(400, "Failed to read the submitted batch data.")
    method, url = item.get("method", ""), item.get("url", "")
    headers, body = item.get("headers") or {}, item.get("body") or {}
    valid = (
        isinstance(method, str)
        and isinstance(url, str)
        and isinstance(headers, dict)
        and all(isinstance(v, str) for v in headers.values())
        and isinstance(body, dict)
    )
    if not valid:
        raise ApiError(400, "Failed to read the submitted batch data.")
    return SubRequest(method, url, dict(headers), dict(body))


def _attach_files(data: dict[str, Any], subs: list[SubRequest]) -> None:
    for key, value in data.items():
        m = _FILE_KEY.match(key)
        if m is None:
            continue
        index = int(m.group(1) or m.group(2))
        files = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, UploadedFile)]
        if not files or index >= len(subs):
            continue
        # PocketBase re-submits each file to the sub-request under its generated name, which is
        # then named again: a batch upload of `a.txt` is stored as `a<rand>_<rand>_<rand>.txt`
        renamed = [f.renamed() for f in files]
        subs[index].body.setdefault(m.group(3), [])
        target = subs[index].body[m.group(3)]
        subs[index].body[m.group(3)] = [*(target if isinstance(target, list) else [target]), *renamed]


def _required() -> dict[str, str]:
    return {"code": "validation_required", "message": "Cannot be blank."}


def _validate(sub: SubRequest) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    if not sub.method:
        errors["method"] = _required()
    elif sub.method not in METHODS:
        errors["method"] = {"code": "validation_in_invalid", "message": "Must be a valid value."}
    if not sub.url:
        errors["url"] = _required()
    elif len(sub.url) > MAX_URL:
        errors["url"] = {
            "code": "validation_length_too_long",
            "message": f"The length must be no more than {MAX_URL}.",
            "params": {"max": MAX_URL, "min": 0},
        }
    return errors


def _run(
    app: App,
    ctx: WriteContext,
    subs: list[SubRequest],
    auth: Auth | None,
    base_headers: dict[str, str],
    timeout: float,
) -> list[dict[str, Any]]:
    """Every sub-request inside the caller's transaction; raising rolls them all back."""
    deadline = time.monotonic() + timeout
    results: list[dict[str, Any]] = []
    for index, sub in enumerate(subs):
        if time.monotonic() > deadline:
            raise ApiError(400, "Batch transaction failed.")
        try:
            results.append(_run_one(app, ctx, sub, auth, base_headers))
        except ApiError as e:
            raise SubRequestFailed(index, e)
    return results


def _run_one(
    app: App, ctx: WriteContext, sub: SubRequest, auth: Auth | None, base_headers: dict[str, str]
) -> dict[str, Any]:
    store = app.store
    action, params = _route(sub)
    col = store.collection_or_404(params["collection"], "Missing collection context.")
    method = sub.method
    if action == "upsert":
        record_id = str(sub.body.get("id") or "")
        if record_id and load_raw(ctx.conn, col, record_id) is not None:
            action, method, params = "update", "PATCH", {**params, "id": record_id}
        else:
            action, method = "create", "POST"
    query = dict(parse_qsl((params.get("query") or "").lstrip("?"), keep_blank_values=True))
    fields = FieldsSpec.parse(query.get("fields", ""))
    headers = dict(base_headers)
    for name, value in sub.headers.items():
        if name.lower() != "authorization":  # the auth is always the batch request's own
            headers[header_key(name)] = value
    req = RequestContext(auth, sub.body, query, headers, method, "batch")
    writer = RecordWriter(ctx, store.registry, store.storage, req)
    if action == "delete":
        writer.delete(col, params["id"])
        return {"body": None, "status": 204}
    result = (
        writer.update(col, params["id"], sub.body) if action == "update" else writer.create(col, sub.body)
    )
    record = present(ctx.conn, col, [result.raw], req, store.find, query.get("expand", ""), fields)[0]
    return {"body": record, "status": 200}


def _route(sub: SubRequest) -> tuple[str, dict[str, str]]:
    line = f"{sub.method.upper()} {sub.url}"
    for action, pattern in ACTIONS:
        m = pattern.match(line)
        if m is not None:
            return action, {k: v for k, v in m.groupdict().items() if v is not None}
    raise ApiError(400)  # PocketBase: "unknown batch request action", shown as the default 400


routes = [batch]

"""Reading request bodies the way PocketBase's router binds them (tools/router/event.go BindBody).

One place for both paths (Litestar's handlers and the hot record routes), so they agree on:
- an empty body is no data; a JSON body needs a `Content-Type` starting with
  `application/json` (anything else is 400 "Unsupported Content-Type."); a UTF-8 BOM or a body
  that is not a JSON object is the default 400;
- the size limit is applied while reading, so a chunked body stops at the limit (413) and is
  never read whole; a client that closes before sending what it announced gets a 400;
- multipart uploads stay in the temporary files the parser spools them to.
Not a route module (the underscore keeps discovery away).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

from litestar import Request
from litestar._multipart import parse_content_header, parse_multipart_form
from litestar._parsers import parse_url_encoded_form_data
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException, InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from core.errors import ApiError, storage_full
from core.store.db import is_storage_full
from core.store.fields import editor
from core.store.fields import json as json_field
from core.store.fields.file import UploadedFile
from core.store.fields.file import max_size as file_max_size
from core.store.fields.listvalue import max_select
from core.store.schema import Collection

log = logging.getLogger("core.api")

JSON_PAYLOAD = "@jsonPayload"
UNSUPPORTED = "Unsupported Content-Type."
TOO_LARGE = "Request entity too large."
# apis.DefaultMaxBodySize: what a record body may hold besides its file, editor and json fields
RECORD_BASE_LIMIT = 32 << 20
_MULTIPART = "multipart/form-data"
_URLENCODED = "application/x-www-form-urlencoded"
_JSON = "application/json"
_BOM = b"\xef\xbb\xbf"


def record_body_limit(col: Collection) -> int:
    """PocketBase's dynamicCollectionBodyLimit: the base plus what each field may carry
    (a file field maxSize x maxSelect), so a 150 MB file fits a field that allows 200 MB."""
    limit = RECORD_BASE_LIMIT
    if col.is_view:
        return limit
    for f in col.fields:
        if f.type == "file":
            limit += file_max_size(f) * max_select(f)
        elif f.type == "editor":
            limit += editor.max_size(f)
        elif f.type == "json":
            limit += json_field.max_size(f)
    return limit


def check_declared_length(headers: Mapping[str, str], limit: int | None) -> None:
    declared = headers.get("content-length", "")
    if limit and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, TOO_LARGE)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")  # Go's decoder knows no NaN or Infinity


def parse_json_object(raw: bytes, content_type: str) -> dict[str, Any]:
    """A non-form body: empty is no data, else a JSON object sent as `application/json`."""
    if not raw:
        return {}
    if not content_type.startswith(_JSON):
        raise ApiError(400, UNSUPPORTED)
    if raw.startswith(_BOM):
        raise ApiError(400)  # encoding/json rejects a byte order mark
    try:
        text = raw.decode("utf-8", errors="replace")  # Go replaces invalid UTF-8 in strings
        # like json.Decoder.Decode: the first value counts, whatever follows it
        data, _ = json.JSONDecoder(parse_constant=_reject_constant).raw_decode(
            text, len(text) - len(text.lstrip())
        )
    except ValueError:
        raise ApiError(400) from None
    if not isinstance(data, dict):
        raise ApiError(400)
    return data


@contextmanager
def _reading() -> Iterator[None]:
    """Litestar's body errors in PocketBase's terms."""
    try:
        yield
    except RequestEntityTooLarge:  # the route's own limit (Litestar's request_max_body_size)
        raise ApiError(413, TOO_LARGE) from None
    except InternalServerException:  # the client went away before the end of its body
        raise ApiError(400) from None
    except ClientException:  # a malformed form
        raise ApiError(400) from None
    except UnicodeDecodeError:
        # a text part that is not UTF-8: Litestar's parser decodes strictly, where PocketBase
        # would keep U+FFFD in its place; refused cleanly rather than half-decoded
        raise ApiError(400) from None
    except OSError as e:  # the parser spools uploads to temporary files
        if not is_storage_full(e):
            raise
        log.error("no space left for the temporary file of an upload: %s", e)
        raise storage_full() from None


async def _chunks(request: Request[Any, Any, Any], limit: int) -> AsyncGenerator[bytes, None]:
    check_declared_length(request.headers, limit)
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise ApiError(413, TOO_LARGE)
        yield chunk


async def read_raw(request: Request[Any, Any, Any], limit: int | None = None) -> bytes:
    with _reading():
        if limit is None:
            return await request.body()  # cached: the UI bridge forwards it again
        return b"".join([chunk async for chunk in _chunks(request, limit)])


async def read_body(request: Request[Any, Any, Any], limit: int | None = None) -> dict[str, Any]:
    """A JSON object or a form (with `@jsonPayload` merged in), read with at most `limit` bytes
    (None: the route's own Litestar limit)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(_MULTIPART):
        return form_values(await _read_multipart(request, content_type, limit))
    raw = await read_raw(request, limit)
    if content_type.startswith(_URLENCODED):
        return form_values(parse_url_encoded_form_data(raw))
    return parse_json_object(raw, content_type)


async def _read_multipart(
    request: Request[Any, Any, Any], content_type: str, limit: int | None
) -> Mapping[str, Any]:
    with _reading():
        if limit is None:
            form = await request.form()  # cached for whoever reads the form again
            return {key: form.getall(key) for key in form}
        boundary = parse_content_header(content_type)[1].get("boundary")
        if not boundary:
            raise ApiError(400)
        return await parse_multipart_form(
            stream=_chunks(request, limit),
            boundary=boundary.encode(),
            multipart_form_part_limit=request.app.multipart_form_part_limit,
        )


def form_values(form: Mapping[str, Any]) -> dict[str, Any]:
    """Form fields as the body: `@jsonPayload` objects merged in, files as `UploadedFile`s."""
    out: dict[str, Any] = {}
    for key, value in form.items():
        values = value if isinstance(value, list) else [value]
        if key == JSON_PAYLOAD:
            for raw in values:
                out.update(_json_payload(raw))
            continue
        items = [_upload(v) if isinstance(v, UploadFile) else v for v in values]
        has_files = any(isinstance(i, UploadedFile) for i in items)
        out[key] = items[0] if len(items) == 1 and not has_files else items
    return out


def _json_payload(raw: Any) -> dict[str, Any]:
    try:
        payload = json.loads(raw if isinstance(raw, str) else "", parse_constant=_reject_constant)
    except ValueError:
        raise ApiError(400) from None
    if not isinstance(payload, dict):
        raise ApiError(400)  # PocketBase: 400 for an array or a string (a 500 for null)
    return payload


def _upload(upload: UploadFile) -> UploadedFile:
    # the parser spooled the content to a temporary file (on disk past 1 MB): keep it there
    return UploadedFile(
        filename=upload.filename or "file",
        content_type=upload.content_type or "",
        spool=cast(BinaryIO, upload.file),
    )

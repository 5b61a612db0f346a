"""/api/files: serve record files (thumbnails, downloads, protected files) and issue file tokens."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import anyio
from litestar import Request, Response, get, post
from litestar.response import Stream

from core.api._superuser_ips import superuser_ip_allowed
from core.api.common import core_app, current_auth, json_response
from core.api.record_auth import client_ip
from core.app import App
from core.errors import ApiError
from core.store import thumbs
from core.store.fields import field_type
from core.store.fields.mimesniff import READ_LIMIT, detect
from core.store.request import Auth, RequestContext, header_key
from core.store.rules import record_matches, rule_sql
from core.store.schema import Collection, Field

log = logging.getLogger("core.files")

# served inline (a browser may display them); everything else is an attachment
INLINE_TYPES = frozenset(
    [
        *("image/png", "image/jpg", "image/jpeg", "image/gif", "image/webp", "image/x-icon", "image/bmp"),
        *("video/webm", "video/mp4", "video/3gpp", "video/quicktime", "video/x-ms-wmv"),
        *("audio/basic", "audio/aiff", "audio/mpeg", "audio/midi", "audio/mp3", "audio/wave", "audio/wav"),
        *("audio/x-wav", "audio/x-mpeg", "audio/x-m4a", "audio/aac", "application/pdf", "application/x-pdf"),
    ]
)
# types content sniffing gets wrong, taken from the extension instead (as PocketBase does)
EXTENSION_TYPES = {
    ".svg": "image/svg+xml",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
}
FILE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
    # valid for 30 days, reusable for a day while revalidating in the background
    "Cache-Control": "max-age=2592000, stale-while-revalidate=86400",
    "Accept-Ranges": "bytes",
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool
CHUNK = 256 * 1024

# thumbnails are CPU work: a few at a time, and one generation per thumbnail however many ask
_thumb_slots = asyncio.Semaphore((os.cpu_count() or 1) + 2)
_thumbs_pending: dict[Path, asyncio.Future[None]] = {}


@post("/api/files/token", status_code=200)
async def file_token(request: Request[Any, Any, Any]) -> Response[bytes]:
    auth = await current_auth(request)
    if auth is None:
        raise ApiError(401)
    app = core_app(request)
    return json_response({"token": app.auth.issue(auth.collection, auth.record, "file")})


@get("/api/files/{collection:str}/{record_id:str}/{filename:str}")
async def download(request: Request[Any, Any, Any]) -> Response[Any]:
    app = core_app(request)
    params = request.path_params
    col = app.store.find(params["collection"])
    if col is None:
        raise ApiError(404, "Missing or invalid collection context.")
    record_id, filename = params["record_id"], params["filename"]
    raw = await app.store.load_raw(col, record_id)
    if raw is None:
        raise ApiError(404)
    field = _file_field(col, raw, filename)
    if field is None:
        raise ApiError(404)
    if field.opt("protected") and not await _may_view(app, request, col, record_id):
        raise ApiError(404)
    owner_col, owner_id = col.id, record_id
    if col.is_view:
        owner = await _view_file_owner(app, col, field.name, filename)
        if owner is None:
            raise ApiError(404)
        owner_col, owner_id = owner
    try:
        original = app.store.storage.path(owner_col, owner_id, filename)
    except ValueError:
        raise ApiError(404)
    if not original.is_file():
        ha = app.services.get("ha")  # under --ha another node may have received the upload
        if ha is None or not await ha.fetch_file(owner_col, owner_id, filename, original):
            raise ApiError(404)
    served, served_name = original, filename
    size = request.query_params.get("thumb", "")
    allowed = size in thumbs.DEFAULT_SIZES or size in (field.opt("thumbs") or [])
    if size and allowed and _sniff(original) in thumbs.IMAGE_TYPES:
        thumb = app.store.storage.thumb_path(owner_col, owner_id, filename, size)
        if thumb.is_file() or await _make_thumb(original, thumb, size):
            served, served_name = thumb, f"{size}_{filename}"
    return _serve(request, served, served_name)


def _file_field(col: Collection, raw: dict[str, Any], filename: str) -> Field | None:
    for f in col.fields:
        if f.type != "file":
            continue
        value = field_type("file").from_db(f, raw.get(f.name))
        if filename in (value if isinstance(value, list) else [value]):
            return f
    return None


async def _may_view(app: App, request: Request[Any, Any, Any], col: Collection, record_id: str) -> bool:
    """A protected file needs `?token=` (a file token) whose record passes the viewRule."""
    found = await app.auth.verify(request.query_params.get("token", ""), "file")
    if found and found[0].name == "_superusers" and not superuser_ip_allowed(app, client_ip(app, request)):
        found = None  # a guest then, as PocketBase treats it
    auth = Auth(record=found[1], collection=found[0]) if found else None
    req = RequestContext(
        auth=auth,
        query=dict(request.query_params.items()),
        headers={header_key(k): v for k, v in request.headers.items()},
        method="GET",
        context="protectedFile",
    )
    try:
        rule = rule_sql(col, "viewRule", req, app.store.find)
    except ApiError:  # superusers only (and not one), or a rule that no longer compiles
        return False
    if rule is None:
        return True
    return await app.store.db.read(lambda conn: record_matches(conn, col, record_id, rule))


async def _view_file_owner(
    app: App, view: Collection, field_name: str, filename: str
) -> tuple[str, str] | None:
    """The source record of a view's file: a collection the view query names, holding that file.

    Stored names carry 10 random characters, so at most one record holds a given name.
    """
    sources = [
        c
        for c in app.store.registry.all()
        if not c.is_view
        and re.search(r"\b" + re.escape(c.name) + r"\b", view.viewQuery)
        and (f := c.get_field(field_name)) is not None
        and f.type == "file"
    ]

    def find(conn: Any) -> tuple[str, str] | None:
        for c in sources:
            column = f"`{field_name}`"
            row = conn.execute(
                f"SELECT id FROM `{c.name}` WHERE {column} = ?1 OR (json_valid({column}) AND "
                f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = ?1)) LIMIT 1",
                (filename,),
            ).fetchone()
            if row:
                return c.id, str(row[0])
        return None

    return await app.store.db.read(find)


def _sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        return detect(fh.read(READ_LIMIT)).type


async def _make_thumb(original: Path, target: Path, size: str) -> bool:
    """Create the thumbnail once (concurrent requests wait for it); False: serve the original."""
    pending = _thumbs_pending.get(target)
    if pending is None:
        pending = asyncio.get_running_loop().create_future()
        _thumbs_pending[target] = pending
        try:
            async with _thumb_slots:
                await asyncio.to_thread(thumbs.create, original, target, size)
            pending.set_result(None)
        except Exception as e:
            log.warning("fallback to the original: failed to create thumb %s: %s", target.name, e)
            pending.set_exception(e)
        finally:
            del _thumbs_pending[target]
    try:
        await asyncio.shield(pending)
    except Exception:
        return False
    return True


def _serve(request: Request[Any, Any, Any], path: Path, name: str) -> Response[Any]:
    """The file with PocketBase's headers; conditional GET and single byte ranges as net/http."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ApiError(404)
    ctype = EXTENSION_TYPES.get(path.suffix.lower()) or _sniff(path)
    attachment = request.query_params.get("download", "") in _TRUE
    disposition = "inline" if ctype in INLINE_TYPES and not attachment else "attachment"
    headers = {
        **FILE_HEADERS,
        "Content-Disposition": f'{disposition}; filename="{name}"',
        "Content-Type": ctype,
        "Last-Modified": formatdate(int(stat.st_mtime), usegmt=True),
    }
    if _not_modified(request.headers.get("if-modified-since"), stat.st_mtime):
        return Response(
            b"", status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"}
        )
    size = stat.st_size
    start, end, status = 0, size - 1, 200
    wanted = request.headers.get("range", "")
    if wanted and size > 0:
        span = _parse_range(wanted, size)
        if span is None:
            return Response(
                b"",
                status_code=416,
                headers={**FILE_HEADERS, "Content-Range": f"bytes */{size}", "Content-Type": "text/plain"},
            )
        start, end, status = span[0], span[1], 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1 if size else 0)
    return Stream(_read(path, start, end - start + 1), status_code=status, headers=headers)


def _not_modified(header: str | None, mtime: float) -> bool:
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return False
    return int(mtime) <= since


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=a-b` range, clamped; None when unsatisfiable (several ranges: the first)."""
    m = _RANGE.match(header.split(",")[0].strip())
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first:
        if not last:
            return None
        length = min(int(last), size)
        return (size - length, size - 1) if length else None
    start = int(first)
    if start >= size:
        return None
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if end >= start else None


async def _read(path: Path, offset: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as fh:
        await fh.seek(offset)
        while length > 0:
            chunk = await fh.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


routes = [file_token, download]

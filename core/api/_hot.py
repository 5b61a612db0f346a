"""The record routes served straight from ASGI, ahead of Litestar's routing and middleware.

List, view, create, update and delete of records are most of an app's traffic. Through Litestar
(router, exception and CORS middleware, three ASGI middlewares, Request objects) a record view
cost three times what the store spends on it, so these routes are answered here, with the
same semantics: the lifecycle gate, the request log, and errors in PocketBase's shape (CORS
and security headers come from core/api/_headers.py, around both paths). `routes` in
core/api/records.py stays the reference and serves everything unusual: a multipart body, rate
limits or superuserIPs switched on, a collection that does not exist, HEAD, OPTIONS, a trailing
slash. Not a route module (the underscore keeps discovery away).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar._parsers import parse_query_string  # Litestar's own parser: identical query semantics

from core.api._body import TOO_LARGE, check_declared_length, parse_json_object, record_body_limit
from core.api._request_log import record_request
from core.api.records import encoded_slash_error
from core.app import App
from core.errors import ApiError
from core.lifecycle import lifecycle_of
from core.store.record_query import ListParams
from core.store.record_view import FieldsSpec
from core.store.request import RequestContext, header_key
from core.store.schema import Collection
from core.store.store import RecordView

log = logging.getLogger("core.api")

_ROUTE = re.compile(r"/api/collections/([^/]+)/records(?:/([^/]+))?")
# (method, has a record id): the route handlers below
_KINDS = {("GET", False): "list", ("GET", True): "view", ("POST", False): "create"}
_KINDS |= {("PATCH", True): "update", ("DELETE", True): "delete"}
_FORM_TYPES = ("multipart/", "application/x-www-form-urlencoded")

# plain ASGI, loosely typed: Litestar's TypedDicts cover every scope kind, this file only http
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


_encoder = msgspec.json.Encoder()
_JSON = (b"content-type", b"application/json")


class _Request:
    """What a hot route needs of the request, decoded once."""

    __slots__ = ("scope", "receive", "_collection", "record_id", "headers", "pairs", "auth")

    def __init__(self, scope: Scope, receive: Receive, collection: Collection | None, record_id: str | None):
        self.scope = scope
        self.receive = receive
        self._collection = collection
        self.record_id = record_id
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.pairs = parse_query_string(scope.get("query_string", b""))
        self.auth: Any = ...  # not resolved yet (a bad body fails before the auth is read)

    @property
    def collection(self) -> Collection:
        assert self._collection is not None  # only a rejected request has none
        return self._collection

    def param(self, name: str) -> str:
        for key, value in self.pairs:
            if key == name:
                return value
        return ""

    async def context(self, core: App, body: dict[str, Any] | None = None) -> RequestContext:
        resolved = await core.auth.resolve(self.headers.get("authorization"))
        self.auth = resolved[0] if resolved else None
        return RequestContext(
            auth=self.auth,
            body=body or {},
            query=dict(self.pairs),
            headers={header_key(k): v for k, v in self.headers.items()},
            method=self.scope["method"],
        )

    def view(self) -> RecordView:
        return RecordView(self.param("expand"), FieldsSpec.parse(self.param("fields")))

    async def json_body(self) -> dict[str, Any]:
        """The JSON object body, read as core.api._body reads it on the Litestar path."""
        limit = record_body_limit(self.collection)
        check_declared_length(self.headers, limit)
        chunks: list[Any] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ApiError(400)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise ApiError(413, TOO_LARGE)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return parse_json_object(b"".join(chunks), self.headers.get("content-type", ""))


async def _list(core: App, r: _Request) -> Any:
    req = await r.context(core)
    return await core.store.list_records(r.collection, ListParams.from_query(req.query), req)


async def _view(core: App, r: _Request) -> Any:
    req = await r.context(core)
    assert r.record_id is not None
    return await core.store.view_record(r.collection, r.record_id, req, r.param("expand"), r.param("fields"))


async def _create(core: App, r: _Request) -> Any:
    body = await r.json_body()
    req = await r.context(core, body)
    return (await core.store.create_record(r.collection, body, req, r.view())).presented


async def _update(core: App, r: _Request) -> Any:
    body = await r.json_body()
    req = await r.context(core, body)
    assert r.record_id is not None
    return (await core.store.update_record(r.collection, r.record_id, body, req, r.view())).presented


async def _delete(core: App, r: _Request) -> Any:
    req = await r.context(core)
    assert r.record_id is not None
    await core.store.delete_record(r.collection, r.record_id, req)
    return None


Handler = Callable[[App, "_Request"], Awaitable[Any]]
_HANDLERS: dict[str, Handler] = {
    "list": _list,
    "view": _view,
    "create": _create,
    "update": _update,
    "delete": _delete,
}


class HotRoutes:
    """Answers the record routes it can; passes every other request to `inner` untouched."""

    def __init__(self, core: App, inner: Any) -> None:
        self.core = core
        self.inner: ASGIApp = inner

    def _route(self, scope: Scope) -> tuple[str, Collection | None, str | None] | None:
        if scope["type"] != "http":
            return None
        match = _ROUTE.fullmatch(scope["path"])
        if match is None:
            return None
        kind = _KINDS.get((scope["method"], match.group(2) is not None))
        if kind is None:
            return None
        col = self.core.store.find(match.group(1))
        if col is None:
            return None
        settings = self.core.store.settings.get()
        if (settings.get("rateLimits") or {}).get("enabled") or settings.get("superuserIPs"):
            return None
        if kind in ("create", "update"):
            for name, value in scope["headers"]:
                if name.lower() == b"content-type" and value.decode("latin-1").lower().startswith(
                    _FORM_TYPES
                ):
                    return None
        return kind, col, match.group(2)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sync = self.core.store.sync
        if sync.stale():  # the route depends on the collections another worker may have changed
            await sync.catch_up()
        rejected = encoded_slash_error(scope) if scope["type"] == "http" else None
        route = self._route(scope) if rejected is None else ("reject", None, None)
        if route is None:
            await self.inner(scope, receive, send)
            return
        if rejected is not None:

            async def reject(core: App, r: _Request) -> Any:
                raise rejected

            handler: Handler = reject
        else:
            handler = _HANDLERS[route[0]]
        kind, col, record_id = route
        async with lifecycle_of(self.core).lease():
            await self._serve(kind, handler, _Request(scope, receive, col, record_id), send)

    async def _serve(self, kind: str, handler: Handler, r: _Request, send: Send) -> None:
        started = time.perf_counter()
        error: dict[str, Any] | None = None
        try:
            result = await handler(self.core, r)
            status, body = (204, b"") if kind == "delete" else (200, _encoder.encode(result))
        except ApiError as exc:
            error = exc.to_json()
            status, body = exc.status, _encoder.encode(error)
        except Exception:
            # never a traceback to the client; the log has it (without the body: it may hold secrets)
            log.exception("unhandled error on %s %s", r.scope["method"], r.scope["path"])
            error = ApiError(400).to_json()
            status, body = 400, _encoder.encode(error)
        headers = [_JSON, (b"content-length", str(len(body)).encode())] if status != 204 else []
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            exec_ms = (time.perf_counter() - started) * 1000
            try:
                if r.auth is ...:
                    resolved = await self.core.auth.resolve(r.headers.get("authorization"))
                    r.auth = resolved[0] if resolved else None
                record_request(self.core, r.scope, r.headers, status, exec_ms, r.auth, error)
            except Exception:  # logging must never break a request
                log.exception("failed to record a request log")

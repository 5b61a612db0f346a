"""Run a PocketBase endpoint's own handler in-process, for a /api/ds request.

Each /api/ds endpoint stands for a PocketBase endpoint and must answer what it answers: same
validation, MFA step, rate-limited OTP attempts, mails, status and JSON. Running that very
handler (a plain coroutine taking the Request) keeps one implementation of every flow, with no
HTTP round trip: the call gets a copy of the request with the route's path parameters, the
token to act with (the cookie's, when the cookie is allowed), and optionally a JSON body built
from the page's form. Handler exceptions become the JSON error responses PocketBase's error
renderer would produce.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.handlers import HTTPRouteHandler
from litestar.types import HTTPDisconnectEvent, HTTPRequestEvent, Receive

from core.api.common import json_response
from core.errors import ApiError

_REPLACED = (b"authorization", b"content-type", b"content-length")


@dataclass
class Result:
    """A PocketBase answer: the response to hand back as is, and its decoded JSON."""

    response: Response[Any]
    status: int
    data: Any

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def message(self) -> str:
        return str(self.data.get("message") or "") if isinstance(self.data, dict) else ""

    @property
    def field_errors(self) -> dict[str, tuple[str, str]]:
        """{field: (code, message)} of a validation error (PocketBase's `data`)."""
        if self.ok or not isinstance(self.data, dict) or not isinstance(self.data.get("data"), dict):
            return {}
        out: dict[str, tuple[str, str]] = {}
        for name, err in self.data["data"].items():
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                out[str(name)] = (str(err.get("code") or ""), err["message"])
        return out


def result_of(response: Response[Any]) -> Result:
    raw = response.content if isinstance(response.content, bytes) else b""
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    return Result(response, response.status_code or 200, data)


def error_result(exc: ApiError) -> Result:
    return result_of(json_response(exc.to_json(), exc.status))


def _one_shot(body: bytes) -> Receive:
    sent = False

    async def receive() -> HTTPRequestEvent | HTTPDisconnectEvent:
        nonlocal sent
        if sent:
            gone: HTTPDisconnectEvent = {"type": "http.disconnect"}
            return gone
        sent = True
        event: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
        return event

    return receive


async def call(
    handler: HTTPRouteHandler,
    request: Request[Any, Any, Any],
    *,
    path_params: dict[str, str],
    token: str,
    body: dict[str, Any] | None = None,
    method: str | None = None,
    query: Mapping[str, str] | None = None,
) -> Result:
    """Run `handler` as if `request` had been routed to it.

    `body` None forwards the request's own body and content type (the plain, PocketBase-shaped
    call); a dict is sent as JSON (the page's form, already picked apart). `query` replaces the
    request's query string (a list call with the page's own paging and filter).
    """
    headers = [(k, v) for k, v in request.scope["headers"] if k.lower() not in _REPLACED]
    if body is None:
        raw = await request.body()
        headers += [(k, v) for k, v in request.scope["headers"] if k.lower() == b"content-type"]
    else:
        raw = json.dumps(body).encode()
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(raw)).encode()))
    if token:
        headers.append((b"authorization", token.encode()))
    scope: Any = {
        **request.scope,
        "headers": headers,
        "path_params": path_params,
        "method": method or request.method,
        # a fresh state: Litestar caches the parsed body and headers there, and core caches auth
        "state": {},
    }
    if query is not None:
        scope["query_string"] = urlencode(query).encode()
    sub: Request[Any, Any, Any] = Request(scope, _one_shot(raw))
    try:
        response = await handler.fn(sub)
    except ApiError as exc:
        return error_result(exc)
    return result_of(response)

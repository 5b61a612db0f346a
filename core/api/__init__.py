"""The Litestar application: every route module, one error renderer."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException

from core.api import collections, health, record_auth, records
from core.api.common import json_response
from core.app import App
from core.errors import DEFAULT_MESSAGES, ApiError

log = logging.getLogger("core.api")

ROUTE_MODULES = (health, collections, records, record_auth)


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[bytes]:
    return json_response(exc.to_json(), exc.status)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status == 404:
        message = "File not found." if request.url.path.startswith("/api/") else DEFAULT_MESSAGES[404]
    elif status == 405:
        status, message = 404, "File not found."
    elif status == 413:
        status, message = 413, "Request entity too large."
    else:
        message = DEFAULT_MESSAGES.get(status, DEFAULT_MESSAGES[400])
    return json_response(ApiError(status, message).to_json(), status)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # never a traceback to the client; the log has it (without request bodies: they may hold secrets)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return json_response(ApiError(400).to_json(), 400)


def build_asgi(app: App) -> Litestar:
    handlers = [h for module in ROUTE_MODULES for h in module.routes]
    asgi = Litestar(
        route_handlers=handlers,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
        cors_config=CORSConfig(allow_origins=["*"], allow_headers=["*"], allow_methods=["*"]),
        request_max_body_size=64 * 1024 * 1024,
        openapi_config=None,
        debug=False,
        logging_config=None,
    )
    asgi.state.core = app
    return asgi

"""The Litestar application: every route module, one error renderer."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from typing import Any

from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException

from core.api._ha_seq import AppliedSequence
from core.api._head import HeadAsGet
from core.api._headers import ResponseHeaders
from core.api._hot import HotRoutes
from core.api._request_log import RequestLogMiddleware
from core.api._superuser_ips_middleware import SuperuserIPs
from core.api.common import json_response
from core.app import App
from core.errors import DEFAULT_MESSAGES, ApiError

log = logging.getLogger("core.api")


def route_modules() -> list[Any]:
    """Every module of this package that exports `routes` (one module per API resource).

    Modules may also export `middleware` (a list of Litestar middleware) and
    `on_startup`/`on_shutdown` callables taking the App. Discovery keeps adding a resource a
    one-file change; the PyInstaller spec collects all submodules of `core`.
    """
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "common":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "routes"):
            modules.append(module)
    return modules


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


def _bind(hook: Any, app: App) -> Any:
    """Litestar passes its own instance to lifespan hooks; ours want the core App."""

    async def run(_: Litestar) -> None:
        result = hook(app)
        if inspect.isawaitable(result):
            await result

    return run


def build_asgi(app: App, hot_routes: bool = True) -> Litestar:
    """The ASGI app; `hot_routes=False` serves the record routes through Litestar too (the
    reference the hot path is tested against)."""
    modules = route_modules()
    handlers = [h for module in modules for h in module.routes]
    middleware = [m for module in modules for m in getattr(module, "middleware", [])]
    startup = [_bind(module.on_startup, app) for module in modules if hasattr(module, "on_startup")]
    shutdown = [_bind(module.on_shutdown, app) for module in modules if hasattr(module, "on_shutdown")]
    asgi = Litestar(
        route_handlers=handlers,
        middleware=middleware,
        on_startup=startup,
        on_shutdown=list(reversed(shutdown)),
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
        request_max_body_size=64 * 1024 * 1024,
        openapi_config=None,
        debug=False,
        logging_config=None,
    )
    asgi.state.core = app
    # around the whole app, so requests no route matched (404/405) are logged too; the hot record
    # routes are answered before any of it (they log for themselves)
    asgi.asgi_handler = RequestLogMiddleware(SuperuserIPs(asgi.asgi_handler))
    if hot_routes:
        asgi.asgi_handler = HotRoutes(app, asgi.asgi_handler)  # type: ignore[assignment]
    inner: Any = asgi.asgi_handler
    inner = AppliedSequence(inner, app)
    inner = HeadAsGet(inner)
    # outermost: preflights are answered before the log and the rate limits, as PocketBase's CORS
    asgi.asgi_handler = ResponseHeaders(inner, app.settings.origins)  # type: ignore[assignment]
    return asgi

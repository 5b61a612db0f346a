"""/api/logs: the request logs (superusers only), and the middleware that records them."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from litestar import Request, Response, delete, get

from core.api._helpers import pick_fields
from core.api._request_log import RequestLogMiddleware
from core.api.common import core_app, json_response, no_content, require_superuser
from core.app import App
from core.errors import ApiError
from core.logs import LogsService
from core.logs.store import LogsDB
from core.logs.stream import LogStream, start_for
from core.store.db import Change
from core.store.record_query import ListParams

SERVICE = "logs"
STREAM_SERVICE = "logs.stream"

log = logging.getLogger("core.logs")


def _service(request: Request[Any, Any, Any]) -> LogsService:
    service: LogsService | None = core_app(request).services.get(SERVICE)
    if service is None:
        raise ApiError(400, "The logs are not available.")
    return service


def _db(request: Request[Any, Any, Any]) -> LogsDB:
    return _service(request).db


@get("/api/logs")
async def logs_list(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    params = ListParams.from_query(dict(request.query_params.items()))
    return json_response(pick_fields(request, await _db(request).search(params)))


@get("/api/logs/stats")
async def logs_stats(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    stats = await _db(request).stats(request.query_params.get("filter", ""))
    return json_response(pick_fields(request, stats))


@get("/api/logs/{log_id:str}")
async def logs_view(request: Request[Any, Any, Any]) -> Response[bytes]:
    log_id = str(request.path_params["log_id"])
    await require_superuser(request)
    found = await _db(request).view(log_id) if log_id else None
    if found is None:
        raise ApiError(404)
    return json_response(pick_fields(request, found))


@delete("/api/logs", status_code=200)
async def logs_delete(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    await asyncio.to_thread(_service(request).delete_all)
    return no_content()


def on_startup(app: App) -> None:
    service = LogsService(app.store.dir, app.store.settings.get)
    service.open()
    app.services[SERVICE] = service
    stream = start_for(app)
    if stream is not None:
        service.taps.append(stream.offer)
        app.services[STREAM_SERVICE] = stream

    def on_change(change: Change) -> None:
        # called on the data.db writer thread: hand the cleanup to its own thread
        if change.tags.get("settings_changed"):
            threading.Thread(
                target=_apply_settings, args=(service,), name="logs-settings", daemon=True
            ).start()

    app.services["logs.listener"] = on_change
    app.store.db.listeners.append(on_change)


def _apply_settings(service: LogsService) -> None:
    try:
        service.apply_settings()
    except Exception:
        log.exception("failed to apply the new logs settings")


async def on_shutdown(app: App) -> None:
    stream: LogStream | None = app.services.pop(STREAM_SERVICE, None)
    if stream is not None:
        await stream.stop()
    listener = app.services.pop("logs.listener", None)
    if listener in app.store.db.listeners:
        app.store.db.listeners.remove(listener)
    service: LogsService | None = app.services.pop(SERVICE, None)
    if service is not None:
        service.close()


routes = [logs_list, logs_stats, logs_view, logs_delete]
middleware = [RequestLogMiddleware]

"""/api/webhooks: the webhook deliveries that ran out of attempts (superusers only).

The hooks themselves are the `webhooks` setting (PATCH /api/settings); delivery is
core/bus/webhooks.py. The bus (record events and webhooks) starts and stops with the app here.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get

from core.api.common import core_app, json_response, require_superuser
from core.app import App
from core.bus import service
from core.bus.webhooks import parked
from core.errors import ApiError
from core.store.record_query import ListParams

log = logging.getLogger("core.bus")


@get("/api/webhooks/deliveries")
async def deliveries_list(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    params = ListParams.from_query(dict(request.query_params.items()))
    bus = core_app(request).services.get(service.SERVICE)
    hook = request.query_params.get("webhook", "")
    total, items = 0, list[dict[str, Any]]()
    if bus is not None:
        try:
            total, items = await parked(bus.js, params.page, params.per_page, hook)
        except Exception as exc:  # JetStream unreachable: say so in PocketBase's shape
            log.warning("webhooks: listing parked deliveries failed: %r", exc)
            raise ApiError(503, "The webhook deliveries are unavailable right now; try again.") from None
    pages = (total + params.per_page - 1) // params.per_page
    return json_response(
        {
            "page": params.page,
            "perPage": params.per_page,
            "totalItems": total,
            "totalPages": pages,
            "items": items,
        }
    )


async def on_startup(app: App) -> None:
    try:
        bus = await service.start(app)
    except Exception:  # the API serves without events rather than not at all
        log.exception("record events and webhooks did not start")
        return
    if bus is not None:
        app.services[service.SERVICE] = bus


async def on_shutdown(app: App) -> None:
    bus = app.services.pop(service.SERVICE, None)
    if bus is not None:
        await bus.stop()


routes = [deliveries_list]

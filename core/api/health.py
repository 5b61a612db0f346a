"""GET /api/health."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from core.api.common import core_app, current_auth, json_response


@get("/api/health")
async def health(request: Request[Any, Any, Any]) -> Response[bytes]:
    data: dict[str, Any] = {}
    ha = core_app(request).services.get("ha")
    problem = ha.problem() if ha is not None else None
    if problem:
        # a load balancer takes this node out; the reason is what an operator needs first
        return json_response({"message": f"API is unhealthy: {problem}", "code": 503, "data": {}}, 503)
    auth = await current_auth(request)
    if auth is not None and auth.is_superuser:
        data = {
            "canBackup": _can_backup(request),
            "realIP": request.client.host if request.client else "",
            "possibleProxyHeader": "",
        }
    # the one endpoint whose envelope says `code`, not `status` (PocketBase does the same)
    return json_response({"message": "API is healthy.", "code": 200, "data": data})


def _can_backup(request: Request[Any, Any, Any]) -> bool:
    backups = core_app(request).services.get("backups")
    return backups is not None and backups.active is None


routes = [health]

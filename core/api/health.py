"""GET /api/health."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from core.api.common import current_auth, json_response


@get("/api/health")
async def health(request: Request[Any, Any, Any]) -> Response[bytes]:
    data: dict[str, Any] = {}
    auth = await current_auth(request)
    if auth is not None and auth.is_superuser:
        data = {
            "canBackup": True,
            "realIP": request.client.host if request.client else "",
            "possibleProxyHeader": "",
        }
    # the one endpoint whose envelope says `code`, not `status` (PocketBase does the same)
    return json_response({"message": "API is healthy.", "code": 200, "data": data})


routes = [health]

"""What every API module needs: the request context, body parsing, JSON responses."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response

from core.api._body import read_body as read_body  # re-exported: route modules read bodies here
from core.app import App
from core.errors import ApiError
from core.store.request import Auth, RequestContext, header_key

_encoder = msgspec.json.Encoder()


def json_response(data: Any, status: int = 200) -> Response[bytes]:
    return Response(content=_encoder.encode(data), status_code=status, media_type="application/json")


def no_content() -> Response[bytes]:
    return Response(content=b"", status_code=204)


def core_app(request: Request[Any, Any, Any]) -> App:
    app: App = request.app.state.core
    return app


async def current_auth(request: Request[Any, Any, Any]) -> Auth | None:
    cached = request.scope.get("state", {}).get("pb_auth", ...)
    if cached is not ...:
        return cached  # type: ignore[no-any-return]
    resolved = await core_app(request).auth.resolve(request.headers.get("authorization"))
    auth = resolved[0] if resolved else None
    request.scope.setdefault("state", {})["pb_auth"] = auth
    request.scope["state"]["pb_auth_claims"] = resolved[1] if resolved else None
    return auth


def auth_claims(request: Request[Any, Any, Any]) -> dict[str, Any] | None:
    claims: dict[str, Any] | None = request.scope.get("state", {}).get("pb_auth_claims")
    return claims


async def request_context(
    request: Request[Any, Any, Any], body: dict[str, Any] | None = None
) -> RequestContext:
    return RequestContext(
        auth=await current_auth(request),
        body=body or {},
        query={k: v for k, v in request.query_params.items()},
        headers={header_key(k): v for k, v in request.headers.items()},
        method=request.method,
    )


async def require_superuser(request: Request[Any, Any, Any]) -> Auth:
    auth = await current_auth(request)
    if auth is None:
        raise ApiError(401)
    if not auth.is_superuser:
        raise ApiError(403, "The authorized record is not allowed to perform this action.")
    return auth

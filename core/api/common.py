"""What every API module needs: the request context, body parsing, JSON responses."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.datastructures import UploadFile

from core.app import App
from core.errors import ApiError
from core.store.fields.file import UploadedFile
from core.store.request import Auth, RequestContext, header_key

JSON_PAYLOAD = "@jsonPayload"

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


async def read_body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """A JSON object or a multipart form (with `@jsonPayload` merged in), as PocketBase reads them."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data") or content_type.startswith(
        "application/x-www-form-urlencoded"
    ):
        return await _read_form(request)
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400)
    if not isinstance(data, dict):
        raise ApiError(400)
    return data


async def _read_form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    try:
        form = await request.form()
    except Exception:
        raise ApiError(400)
    out: dict[str, Any] = {}
    for key in form:
        values = form.getall(key)
        if key == JSON_PAYLOAD:
            for raw in values:
                try:
                    payload = json.loads(raw if isinstance(raw, str) else "")
                except ValueError:
                    raise ApiError(400)
                if isinstance(payload, dict):
                    out.update(payload)
            continue
        items: list[Any] = []
        for v in values:
            if isinstance(v, UploadFile):
                items.append(
                    UploadedFile(
                        filename=v.filename or "file", content_type=v.content_type or "", data=await v.read()
                    )
                )
            else:
                items.append(v)
        out[key] = (
            items[0] if len(items) == 1 and not any(isinstance(i, UploadedFile) for i in items) else items
        )
    return out

"""Small helpers shared by the superuser service endpoints (settings, logs, crons, backups, sql).

Not a route module (the leading underscore keeps route discovery away from it).
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from core.api._body import UNSUPPORTED
from core.api.common import read_body
from core.errors import ApiError
from core.store.record_view import FieldsSpec

LOAD_FAILED = "An error occurred while loading the submitted data."


async def read_json_object(request: Request[Any, Any, Any], message: str = LOAD_FAILED) -> dict[str, Any]:
    """The body as an object; a body that cannot be read is PocketBase's 400 "failed to load"
    with `message`, except the router's own answers, which PocketBase passes through
    (firstApiError): a body over the size limit (413) and an unsupported Content-Type."""
    try:
        return await read_body(request)
    except ApiError as e:
        if e.status == 413 or e.message == UNSUPPORTED:
            raise
        raise ApiError(400, message) from None


def pick_fields(request: Request[Any, Any, Any], data: Any) -> Any:
    """PocketBase's `?fields=` picker: on each item of a list result, else on the object itself."""
    spec = FieldsSpec.parse(request.query_params.get("fields", ""))
    if spec is None:
        return data
    if isinstance(data, list):
        return [spec.apply(item) for item in data]
    if isinstance(data, dict) and "items" in data and "perPage" in data:
        return {**data, "items": [spec.apply(item) for item in data["items"]]}
    return spec.apply(data)

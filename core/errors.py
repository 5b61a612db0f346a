"""The one error type of the API, rendered in PocketBase's shape `{status, message, data}`."""

from __future__ import annotations

from typing import Any

DEFAULT_MESSAGES = {
    400: "Something went wrong while processing your request.",
    401: "The request requires valid record authorization token.",
    403: "You are not allowed to perform this request.",
    404: "The requested resource wasn't found.",
    413: "Request entity too large.",
    429: "Too Many Requests.",
    500: "Something went wrong while processing your request.",
}


# a write that failed because the disk (or the quota) is full: a server error, not bad input
STORAGE_FULL_STATUS = 507
STORAGE_FULL = "The server's storage is full, so the change was not saved. Try again once space is freed."


class ApiError(Exception):
    def __init__(self, status: int, message: str | None = None, data: dict[str, Any] | None = None):
        self.status = status
        self.message = message or DEFAULT_MESSAGES.get(status, DEFAULT_MESSAGES[400])
        self.data = data or {}
        super().__init__(self.message)

    def to_json(self) -> dict[str, Any]:
        return {"data": self.data, "message": self.message, "status": self.status}


def storage_full() -> ApiError:
    return ApiError(STORAGE_FULL_STATUS, STORAGE_FULL)


def is_storage_full_error(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.status == STORAGE_FULL_STATUS


def bad_request(message: str | None = None, data: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, message, data)


def unauthorized(message: str | None = None) -> ApiError:
    return ApiError(401, message)


def forbidden(message: str | None = None) -> ApiError:
    return ApiError(403, message)


def not_found(message: str | None = None) -> ApiError:
    return ApiError(404, message)


def validation_error(code: str, message: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "message": message}
    if params:
        out["params"] = params
    return out

"""json: any JSON value, NULL when unset (field_json.go).

A string input that looks like JSON (starts with a digit, `-`, `"`, `[` or `{` and parses, or is
`null`/`true`/`false`) is taken as JSON: this is how PocketBase lets multipart forms carry JSON,
and it applies to JSON bodies too (`"1"` becomes 1). Any other string is a JSON string.

Values are held parsed; the stored text is the canonical Go encoding (keys sorted, floats as Go
prints them), so the size limit is measured on that text.
"""

from __future__ import annotations

import json
from typing import Any

from core.store.fields.base import (
    MAX_SAFE_JSON_INT,
    FieldError,
    FieldType,
    FindCollection,
    ValidationContext,
    check_int_range,
    int_option,
    required_error,
)
from core.store.fields.cast import go_json_dumps, json_number
from core.store.schema import Collection, Field

DEFAULT_MAX_SIZE = 5 << 20
EMPTY_JSON = ("null", '""', "[]", "{}", "")
_JSON_START = frozenset('0123456789-"[{')


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN/Infinity are not JSON to Go


def parse_json_text(text: str) -> tuple[bool, Any]:
    try:
        return True, as_go_value(json.loads(text, parse_constant=_reject_constant))
    except (ValueError, RecursionError):
        return False, None


def as_go_value(value: Any) -> Any:
    """What the value becomes after a Go decode: integers beyond 2^53 lose precision."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        if abs(value) <= 2**53:
            return value
        try:
            return json_number(float(value))
        except OverflowError:
            return value
    if isinstance(value, list | tuple):
        return [as_go_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): as_go_value(v) for k, v in value.items()}
    return value


def max_size(field: Field) -> int:
    size = int_option(field, "maxSize")
    return size if size > 0 else DEFAULT_MAX_SIZE


class JsonType(FieldType):
    name = "json"

    def column_type(self, field: Field) -> str:
        return "JSON DEFAULT NULL"

    def zero(self, field: Field) -> Any:
        return None

    def normalize(self, field: Field, raw: Any) -> Any:
        if not isinstance(raw, str):
            return as_go_value(raw)
        if raw in ("null", "true", "false") or (raw[:1] in _JSON_START):
            ok, parsed = parse_json_text(raw)
            if ok:
                return parsed
        return raw

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        try:
            text = go_json_dumps(value)
        except ValueError:
            raise FieldError("validation_invalid_json", "Must be a valid json value.")
        limit = max_size(field)
        if len(text.encode()) > limit:
            raise FieldError(
                "validation_json_size_limit",
                f"The maximum allowed JSON size is {limit} bytes.",
                {"maxSize": limit},
            )
        if field.required and text.strip() in EMPTY_JSON:
            raise required_error()

    def to_db(self, field: Field, value: Any) -> Any:
        return None if value is None else go_json_dumps(value)

    def from_db(self, field: Field, raw: Any) -> Any:
        if raw is None:
            return None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        if isinstance(raw, str):
            ok, parsed = parse_json_text(raw)
            return parsed if ok else raw
        return raw  # SQLite handed back a number for a bare JSON number

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        errors: dict[str, FieldError] = {}
        check_int_range(errors, "maxSize", int_option(field, "maxSize"), 0, MAX_SAFE_JSON_INT)
        return errors

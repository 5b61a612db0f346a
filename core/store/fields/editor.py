"""editor: HTML text with a byte-size cap (PocketBase's field_editor.go)."""

from __future__ import annotations

from typing import Any

from core.store.fields.base import (
    MAX_SAFE_JSON_INT,
    FieldError,
    FindCollection,
    StringType,
    ValidationContext,
    check_int_range,
    int_option,
    required_error,
)
from core.store.fields.cast import to_string
from core.store.schema import Collection, Field

DEFAULT_MAX_SIZE = 5 << 20


def max_size(field: Field) -> int:
    size = int_option(field, "maxSize")
    return size if size > 0 else DEFAULT_MAX_SIZE


class EditorType(StringType):
    name = "editor"

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        text = to_string(value)
        if field.required and text == "":
            raise required_error()
        limit = max_size(field)
        if len(text.encode()) > limit:  # bytes, not characters
            raise FieldError(
                "validation_content_size_limit",
                f"The maximum allowed content size is {limit} bytes.",
                {"maxSize": limit},
            )

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        errors: dict[str, FieldError] = {}
        check_int_range(errors, "maxSize", int_option(field, "maxSize"), 0, MAX_SAFE_JSON_INT)
        return errors

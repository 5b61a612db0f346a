"""select: one or more values from the field's `values` list (field_select.go)."""

from __future__ import annotations

from typing import Any

from core.store.fields.base import (
    FieldError,
    FindCollection,
    ValidationContext,
    check_int_range,
    int_option,
    required_error,
)
from core.store.fields.cast import to_unique_string_slice
from core.store.fields.listvalue import StringListType, max_select
from core.store.schema import Collection, Field


def too_many(limit: int) -> FieldError:
    return FieldError("validation_too_many_values", f"Select no more than {limit}.", {"maxSelect": limit})


class SelectType(StringListType):
    name = "select"

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        values = to_unique_string_slice(value)
        if not values:
            if field.required:
                raise required_error()
            return
        limit = max_select(field)
        if len(values) > limit:
            raise too_many(limit)
        allowed = [str(v) for v in field.opt("values") or []]
        for v in values:
            if v not in allowed:
                raise FieldError("validation_invalid_value", f"Invalid value {v}.", {"value": v})

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        errors: dict[str, FieldError] = {}
        values = field.opt("values") or []
        if not values:
            errors["values"] = required_error()
        check_int_range(errors, "maxSelect", int_option(field, "maxSelect"), 0, max(len(values), 1))
        return errors

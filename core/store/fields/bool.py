"""bool: BOOLEAN 0/1 (PocketBase's field_bool.go). A required bool must be true."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.store.fields.base import FieldType, ValidationContext, required_error
from core.store.fields.cast import to_bool
from core.store.schema import Field


class BoolType(FieldType):
    name = "bool"

    def column_type(self, field: Field) -> str:
        return "BOOLEAN DEFAULT FALSE NOT NULL"

    def zero(self, field: Field) -> Any:
        return False

    def normalize(self, field: Field, raw: Any) -> Any:
        # strconv.ParseBool: "true"/"1"/"t" are true; "on" and "yes" are false
        return to_bool(raw)

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        if field.required and not to_bool(value):
            raise required_error()

    def to_db(self, field: Field, value: Any) -> Any:
        return 1 if to_bool(value) else 0

    def from_db(self, field: Field, raw: Any) -> Any:
        return to_bool(raw)

    def reader(self, field: Field) -> Callable[[Any], Any]:
        return to_bool

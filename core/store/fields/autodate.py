"""autodate: `created`/`updated` style timestamps (field_autodate.go).

Clients cannot set these (PocketBase's setter is a no-op): the records layer must ignore them
in request bodies and assign `date.now_datetime()` on create (onCreate) and update (onUpdate).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.store.fields.base import FieldError, FieldType, FindCollection, ValidationContext
from core.store.fields.date import normalize_datetime
from core.store.schema import Collection, Field

EITHER_REQUIRED = "Either onCreate or onUpdate must be enabled."


class AutodateType(FieldType):
    name = "autodate"

    def column_type(self, field: Field) -> str:
        # SQLite cannot add a column with a non-constant default, hence '' and not CURRENT_TIMESTAMP
        return "TEXT DEFAULT '' NOT NULL"

    def zero(self, field: Field) -> Any:
        return ""

    def normalize(self, field: Field, raw: Any) -> Any:
        return normalize_datetime(raw)

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        return None

    def to_db(self, field: Field, value: Any) -> Any:
        return normalize_datetime(value)

    def from_db(self, field: Field, raw: Any) -> Any:
        return normalize_datetime(raw)

    def reader(self, field: Field) -> Callable[[Any], Any]:
        return normalize_datetime

    def writer(self, field: Field) -> Callable[[Any], Any]:
        return normalize_datetime

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        errors: dict[str, FieldError] = {}
        on_create, on_update = bool(field.opt("onCreate")), bool(field.opt("onUpdate"))
        stored = find_collection(collection.id) if collection.id else None
        previous = stored.field_by_id(field.id) if stored is not None else None
        for key, value in (("onCreate", on_create), ("onUpdate", on_update)):
            # system autodates (created/updated) keep their behaviour
            if (
                field.system
                and previous is not None
                and previous.type == "autodate"
                and bool(previous.opt(key)) != value
            ):
                errors[key] = FieldError("validation_values_mismatch", "Values don't match.")
            elif not on_create and not on_update:
                errors[key] = FieldError("validation_required", EITHER_REQUIRED)
        return errors

"""relation: ids of records in another collection (field_relation.go).

Existence is checked through `ctx.existing_ids`, all ids at once, like PocketBase's
`SELECT count(*) ... WHERE id IN (...)`.
"""

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
from core.store.fields.select import too_many
from core.store.schema import Collection, Field


class RelationType(StringListType):
    name = "relation"

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        ids = to_unique_string_slice(value)
        if not ids:
            if field.required:
                raise required_error()
            return
        least = int_option(field, "minSelect")
        if least > 0 and len(ids) < least:
            raise FieldError(
                "validation_not_enough_values", f"Select at least {least}.", {"minSelect": least}
            )
        limit = max_select(field)
        if len(ids) > limit:
            raise too_many(limit)
        target = ctx.find_collection(str(field.opt("collectionId") or ""))
        if target is None:
            raise FieldError(
                "validation_missing_rel_collection", "Relation connection is missing or cannot be accessed."
            )
        found = ctx.existing_ids(target, ids)
        if len(set(ids) & set(found)) != len(ids):
            raise FieldError(
                "validation_missing_rel_records", "Failed to find all relation records with the provided ids."
            )

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        errors: dict[str, FieldError] = {}
        target_id = str(field.opt("collectionId") or "")
        if not target_id:
            errors["collectionId"] = required_error()
        elif problem := _collection_problem(field, target_id, collection, find_collection):
            errors["collectionId"] = problem
        least = int_option(field, "minSelect")
        check_int_range(errors, "minSelect", least, 0, None)
        most = int_option(field, "maxSelect")
        if least > 0 and most == 0:
            errors["maxSelect"] = required_error()
        check_int_range(errors, "maxSelect", most, least, None)
        return errors


def _collection_problem(
    field: Field, target_id: str, collection: Collection, find_collection: FindCollection
) -> FieldError | None:
    stored = find_collection(collection.id) if collection.id else None
    previous = stored.field_by_id(field.id) if stored is not None else None
    if previous is not None and previous.type == "relation" and previous.opt("collectionId") != target_id:
        return FieldError("validation_field_relation_change", "The relation collection cannot be changed.")
    # looked up among stored collections only: PocketBase rejects a self-relation on create
    target = find_collection(target_id)
    if target is None or target.id != target_id:  # a name is not accepted, only the id
        return FieldError(
            "validation_field_relation_missing_collection", "The relation collection doesn't exist."
        )
    if not collection.is_view and target.is_view:
        return FieldError(
            "validation_relation_field_non_view_base_collection",
            "Only view collections are allowed to have relations to other views.",
        )
    return None

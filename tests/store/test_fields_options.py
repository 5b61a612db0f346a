"""Field option errors on collection create/update: `data.fields.<i>.<option>` from the binary."""

from __future__ import annotations

from typing import Any

import pytest

from core.store.fields import field_type
from core.store.schema import Collection, Field, id_field

TARGET = "pbc_3729476522"
STORED = {
    TARGET: Collection(name="tgt", id=TARGET),
    "pbc_view": Collection(name="v", id="pbc_view", type="view"),
}


def option_errors(spec: dict[str, Any], collection: Collection | None = None) -> dict[str, Any]:
    field = Field.from_json({"name": "x", **spec})
    col = collection or Collection(name="opt", fields=[id_field(), field])
    errors = field_type(field.type).validate_options(field, col, STORED.get)
    return {k: v.to_json() for k, v in errors.items()}


def ozzo_min(n: int) -> dict[str, Any]:
    return {
        "code": "validation_min_greater_equal_than_required",
        "message": f"Must be no less than {n}.",
        "params": {"threshold": n},
    }


def ozzo_max(n: int) -> dict[str, Any]:
    return {
        "code": "validation_max_less_equal_than_required",
        "message": f"Must be no greater than {n}.",
        "params": {"threshold": n},
    }


REQUIRED = {"code": "validation_required", "message": "Cannot be blank."}
ONLY_INT = {"code": "validation_only_int_constraint", "message": "Decimal numbers are not allowed."}
BAD_REGEX = {"code": "validation_invalid_regex", "message": "Error parsing regexp: missing closing ]: `[`."}
IS_DOMAIN = {"code": "validation_is_domain", "message": "Must be a valid domain."}
BLANK = {"code": "validation_empty", "message": "Must be blank."}
MISSING_COLLECTION = {
    "code": "validation_field_relation_missing_collection",
    "message": "The relation collection doesn't exist.",
}
EITHER = {"code": "validation_required", "message": "Either onCreate or onUpdate must be enabled."}

CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"type": "text", "min": -1}, {"min": ozzo_min(0)}),
    ({"type": "text", "min": 5, "max": 3}, {"max": ozzo_min(5)}),
    ({"type": "text", "pattern": "(["}, {"pattern": BAD_REGEX}),
    ({"type": "text", "autogeneratePattern": "(["}, {"autogeneratePattern": BAD_REGEX}),
    (
        {"type": "text", "autogeneratePattern": "\\d+$"},
        {
            "autogeneratePattern": {
                "code": "validation_invalid_autogenerate_pattern",
                "message": "Unsupported pattern operator 10.",
            }
        },
    ),
    ({"type": "text", "max": 9007199254740992}, {"max": ozzo_max(9007199254740991)}),
    ({"type": "text", "autogeneratePattern": "[a-z]{3}", "min": 2}, {}),
    (
        {"type": "number", "min": 5, "max": 3},
        {
            "max": {
                "code": "validation_min_number_constraint",
                "message": "Must be greater or equal than 5.",
                "params": {"min": 5},
            }
        },
    ),
    ({"type": "number", "onlyInt": True, "min": 1.5, "max": 2.5}, {"min": ONLY_INT, "max": ONLY_INT}),
    (
        {"type": "email", "onlyDomains": ["a.com"], "exceptDomains": ["b.com"]},
        {"exceptDomains": BLANK, "onlyDomains": BLANK},
    ),
    ({"type": "email", "onlyDomains": ["not a domain"]}, {"onlyDomains": {"0": IS_DOMAIN}}),
    ({"type": "url", "exceptDomains": ["a.com", "-bad-"]}, {"exceptDomains": {"1": IS_DOMAIN}}),
    ({"type": "editor", "maxSize": -1}, {"maxSize": ozzo_min(0)}),
    ({"type": "date", "min": "2021-01-01 00:00:00.000Z", "max": "2020-01-01 00:00:00.000Z"}, {}),
    ({"type": "date", "min": "garbage"}, {}),
    ({"type": "autodate", "onCreate": False, "onUpdate": False}, {"onCreate": EITHER, "onUpdate": EITHER}),
    ({"type": "select", "values": []}, {"values": REQUIRED}),
    ({"type": "select", "values": ["a"], "maxSelect": 2}, {"maxSelect": ozzo_max(1)}),
    ({"type": "select", "values": ["a", "b"], "maxSelect": -1}, {"maxSelect": ozzo_min(0)}),
    ({"type": "select", "values": ["a", "a"]}, {}),
    ({"type": "select", "values": [""]}, {}),
    ({"type": "file", "maxSelect": -1, "maxSize": -1}, {"maxSelect": ozzo_min(0), "maxSize": ozzo_min(0)}),
    (
        {"type": "file", "thumbs": ["0x0", "100x", "abc", "100x100", "10x10q", "0x50t"]},
        {
            "thumbs": {
                "0": {"code": "validation_not_in_invalid", "message": "Must not be in list."},
                "1": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
                "2": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
                "4": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
            }
        },
    ),
    ({"type": "file", "mimeTypes": ["bad"]}, {}),
    ({"type": "relation"}, {"collectionId": REQUIRED}),
    ({"type": "relation", "collectionId": "nope"}, {"collectionId": MISSING_COLLECTION}),
    ({"type": "relation", "collectionId": "tgt"}, {"collectionId": MISSING_COLLECTION}),  # names don't count
    ({"type": "relation", "collectionId": TARGET, "minSelect": 2}, {"maxSelect": REQUIRED}),
    (
        {"type": "relation", "collectionId": TARGET, "minSelect": 3, "maxSelect": 2},
        {"maxSelect": ozzo_min(3)},
    ),
    ({"type": "relation", "collectionId": TARGET, "minSelect": -1}, {"minSelect": ozzo_min(0)}),
    (
        {"type": "relation", "collectionId": "pbc_view"},
        {
            "collectionId": {
                "code": "validation_relation_field_non_view_base_collection",
                "message": "Only view collections are allowed to have relations to other views.",
            }
        },
    ),
    ({"type": "json", "maxSize": -5}, {"maxSize": ozzo_min(0)}),
    ({"type": "password", "min": 0}, {}),
    ({"type": "password", "min": 80}, {"min": ozzo_max(71)}),
    ({"type": "password", "min": 5, "max": 3}, {"max": ozzo_min(5)}),
    ({"type": "password", "cost": 50}, {"cost": ozzo_max(31)}),
    ({"type": "password", "cost": 2}, {"cost": ozzo_min(4)}),
    ({"type": "password", "pattern": "(["}, {"pattern": BAD_REGEX}),
    ({"type": "bool"}, {}),
    ({"type": "geoPoint"}, {}),
]


@pytest.mark.parametrize(("spec", "expected"), CASES)
def test_option_errors(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    assert option_errors(spec) == expected


def test_autogenerate_pattern_checked_against_field_rules() -> None:
    errors = option_errors({"type": "text", "autogeneratePattern": "[a-z]{3}", "min": 5})
    assert errors["autogeneratePattern"]["code"] == "validation_invalid_autogenerate_pattern_value"
    assert errors["autogeneratePattern"]["message"].startswith(
        'The provided autogenerate pattern could produce invalid field values, ex.: "'
    )


def test_second_primary_key() -> None:
    field = Field.from_json({"name": "x", "type": "text", "primaryKey": True})
    col = Collection(name="opt", fields=[id_field(), field])
    composite = {
        "code": "validation_unsupported_composite_pk",
        "message": "Composite PKs are not supported and the collection must have only 1 PK.",
    }
    ft = field_type("text")
    assert {k: v.to_json() for k, v in ft.validate_options(field, col, STORED.get).items()} == {
        "name": {"code": "validation_in_invalid", "message": 'The primary key must be named "id".'},
        "pattern": REQUIRED,
        "primaryKey": composite,
        "required": REQUIRED,
    }
    assert {k: v.to_json() for k, v in ft.validate_options(col.fields[0], col, STORED.get).items()} == {
        "primaryKey": composite
    }


def test_relation_target_cannot_change() -> None:
    stored = Collection(
        name="r1", id="pbc_r1", fields=[id_field(), Field("r", "relation", options={"collectionId": TARGET})]
    )
    moved = Field("r", "relation", options={"collectionId": "pbc_other"})
    finder = {**STORED, "pbc_r1": stored, "pbc_other": Collection(name="o", id="pbc_other")}.get
    errors = field_type("relation").validate_options(
        moved, Collection(name="r1", id="pbc_r1", fields=[moved]), finder
    )
    assert errors["collectionId"].to_json() == {
        "code": "validation_field_relation_change",
        "message": "The relation collection cannot be changed.",
    }


def test_system_autodate_keeps_its_behaviour() -> None:
    created = Field("created", "autodate", system=True, options={"onCreate": True, "onUpdate": False})
    stored = Collection(name="c", id="pbc_c", fields=[created])
    changed = Field("created", "autodate", system=True, options={"onCreate": True, "onUpdate": True})
    errors = field_type("autodate").validate_options(
        changed, Collection(name="c", id="pbc_c", fields=[changed]), {"pbc_c": stored}.get
    )
    assert {k: v.to_json() for k, v in errors.items()} == {
        "onUpdate": {"code": "validation_values_mismatch", "message": "Values don't match."}
    }

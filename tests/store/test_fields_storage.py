"""Columns, zero values and SQLite round trips, against the 0.40.6 binary's tables and rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import apsw
import pytest

from core.store.fields import field_type, field_types
from core.store.schema import FIELD_TYPES, Collection, Field

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pocketbase"

# sqlite_master.sql of the all-fields collection, as the binary created it
PB_TABLE = (
    "CREATE TABLE `allf` (`ad` TEXT DEFAULT '' NOT NULL, `b` BOOLEAN DEFAULT FALSE NOT NULL, "
    "`d` TEXT DEFAULT '' NOT NULL, `e` TEXT DEFAULT '' NOT NULL, `ed` TEXT DEFAULT '' NOT NULL, "
    "`f` TEXT DEFAULT '' NOT NULL, `g` JSON DEFAULT '{\"lon\":0,\"lat\":0}' NOT NULL, "
    "`id` TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL, `j` JSON DEFAULT NULL, "
    "`n` NUMERIC DEFAULT 0 NOT NULL, `p` TEXT DEFAULT '' NOT NULL, `r` TEXT DEFAULT '' NOT NULL, "
    "`s` TEXT DEFAULT '' NOT NULL, `t` TEXT DEFAULT '' NOT NULL, `u` TEXT DEFAULT '' NOT NULL)"
)


def all_fields() -> Collection:
    return Collection.from_json(json.loads((FIXTURES / "all_fields_collection.json").read_text()))


def test_every_type_is_registered() -> None:
    assert set(field_types()) == set(FIELD_TYPES)
    with pytest.raises(KeyError):
        field_type("color")


def test_column_definitions_match_pocketbase() -> None:
    col = all_fields()
    columns = sorted(field_type(f.type).column_definition(f) for f in col.fields)
    assert f"CREATE TABLE `allf` ({', '.join(columns)})" == PB_TABLE


@pytest.mark.parametrize("type_", ["select", "file", "relation"])
def test_multi_value_columns(type_: str) -> None:
    field = Field("m", type_, options={"maxSelect": 2})
    assert field_type(type_).column_definition(field) == "`m` JSON DEFAULT '[]' NOT NULL"


ZEROS: dict[str, Any] = {
    "t": "",
    "n": 0,
    "b": False,
    "e": "",
    "u": "",
    "ed": "",
    "d": "",
    "ad": "",
    "s": "",
    "f": "",
    "r": "",
    "j": None,
    "p": "",
    "g": {"lon": 0, "lat": 0},
}


def test_zero_values() -> None:
    col = all_fields()
    assert {f.name: field_type(f.type).zero(f) for f in col.fields if f.name != "id"} == ZEROS
    assert field_type("select").zero(Field("m", "select", options={"maxSelect": 2})) == []


@pytest.fixture
def db() -> apsw.Connection:
    return apsw.Connection(":memory:")


def store_and_load(db: apsw.Connection, field: Field, value: Any) -> tuple[Any, Any, str]:
    """Write a normalized value through a real column; return (raw, API value, SQLite type)."""
    ft = field_type(field.type)
    db.execute(f"DROP TABLE IF EXISTS t; CREATE TABLE t ({ft.column_definition(field)})")
    db.execute("INSERT INTO t VALUES (?)", (ft.to_db(field, ft.normalize(field, value)),))
    raw, kind = next(db.execute(f"SELECT `{field.name}`, typeof(`{field.name}`) FROM t"))
    return raw, ft.from_db(field, raw), kind


# raw columns as the binary wrote them for the same inputs
ROUND_TRIPS: list[tuple[Field, Any, Any, Any, str]] = [
    (Field("n", "number"), 3.5, 3.5, 3.5, "real"),
    (Field("n", "number"), 2, 2, 2, "integer"),
    (Field("n", "number"), 1e20, 1e20, 100000000000000000000, "real"),
    (Field("n", "number"), "7", 7, 7, "integer"),
    (Field("b", "bool"), True, 1, True, "integer"),
    (Field("b", "bool"), "false", 0, False, "integer"),
    (Field("sm", "select", options={"maxSelect": 3}), ["a", "b"], '["a","b"]', ["a", "b"], "text"),
    (Field("s", "select"), ["a", "b"], "b", "b", "text"),
    (Field("g", "geoPoint"), {"lat": 1.5, "lon": 2}, '{"lon":2,"lat":1.5}', {"lon": 2, "lat": 1.5}, "text"),
    (Field("d", "date"), "2024-01-01", "2024-01-01 00:00:00.000Z", "2024-01-01 00:00:00.000Z", "text"),
    (Field("d", "date"), "", "", "", "text"),
    (
        Field("j", "json"),
        {"b": 1, "a": {"d": 1, "c": [1.0, 2.5, 1e21, 1e-7]}, "<": "&"},
        '{"<":"&","a":{"c":[1,2.5,1e+21,1e-7],"d":1},"b":1}',
        {"<": "&", "a": {"c": [1, 2.5, 1e21, 1e-7], "d": 1}, "b": 1},
        "text",
    ),
    (Field("j", "json"), None, None, None, "null"),
    (Field("j", "json"), '"q"', '"q"', "q", "text"),
    (Field("t", "text"), 12, "12", "12", "text"),
    (Field("r", "relation", options={"maxSelect": 2}), "abc", '["abc"]', ["abc"], "text"),
]


@pytest.mark.parametrize(("field", "value", "raw", "api", "kind"), ROUND_TRIPS)
def test_sqlite_round_trip(
    db: apsw.Connection, field: Field, value: Any, raw: Any, api: Any, kind: str
) -> None:
    assert store_and_load(db, field, value) == (raw, api, kind)


def test_single_column_read_as_multi() -> None:
    # a field switched from single to multi still reads its old plain values
    field = Field("s", "select", options={"maxSelect": 2})
    assert field_type("select").from_db(field, "a") == ["a"]
    assert field_type("select").from_db(Field("s", "select"), '["a","b"]') == "b"

"""Per-collection codecs (core/store/codec.py) and the shortcuts they run.

A codec must give exactly what the per-field `from_db` / `to_db` give, for every field type and
for the odd values a table can hold (NULLs, numbers in text columns, JSON text in a single
select), and it must be built once per schema, not once per row.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from core.store.codec import codec_of
from core.store.fields import field_type
from core.store.fields.date import normalize_datetime
from core.store.fields.gotime import CAST_LAYOUTS, PB_LAYOUT, parse_layout
from core.store.record_view import normalized, serialize
from core.store.request import RequestContext
from core.store.schema import Collection, Field

FIELDS = [
    Field("id", "text"),
    Field("title", "text"),
    Field("views", "number"),
    Field("ok", "bool"),
    Field("mail", "email"),
    Field("site", "url"),
    Field("body", "editor"),
    Field("due", "date"),
    Field("created", "autodate", options={"onCreate": True}),
    Field("status", "select", options={"values": ["a", "b"], "maxSelect": 1}),
    Field("tags", "select", options={"values": ["a", "b"], "maxSelect": 2}),
    Field("owner", "relation", options={"collectionId": "x", "maxSelect": 1}),
    Field("likes", "relation", options={"collectionId": "x", "maxSelect": 5}),
    Field("doc", "file", options={"maxSelect": 1}),
    Field("docs", "file", options={"maxSelect": 3}),
    Field("meta", "json"),
    Field("where", "geoPoint"),
    Field("secret", "text", hidden=True),
]

# what a column may hold: what core writes, and what another writer (PocketBase, /api/sql) may
ODD_VALUES: list[Any] = [
    None,
    "",
    "plain",
    "a,b",
    '["a","b","a"]',
    '["a",1]',
    "[broken",
    "2025-01-15 10:00:00.000Z",
    "2025-02-30 10:00:00.000Z",
    "0001-01-01 00:00:00.000Z",
    "0000-01-01 00:00:00.000Z",
    "2025-01-15 10:00:00.123456Z",
    "2025-01-15T10:00:00Z",
    '{"k": [1, 2.5, null]}',
    "null",
    0,
    1,
    2,
    -7,
    1.5,
    2**60,
    b"bytes",
    b'["x"]',
]


def _col(**kw: Any) -> Collection:
    return Collection(
        name="c",
        fields=[Field(f.name, f.type, hidden=f.hidden, options=dict(f.options)) for f in FIELDS],
        **kw,
    )


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_readers_and_writers_equal_from_db_and_to_db(value: Any) -> None:
    col = _col()
    codec = codec_of(col)
    for f, (name, read), (wname, write) in zip(col.fields, codec.all_readers, codec.writers, strict=True):
        ft = field_type(f.type)
        assert name == wname == f.name
        assert read(value) == ft.from_db(f, value), (f.type, f.options)
        assert type(read(value)) is type(ft.from_db(f, value))
        if f.type in ("date", "autodate", "text", "email", "url", "editor", "bool", "number") or (
            f.type == "json" and not isinstance(value, bytes)
        ):
            normal = ft.normalize(f, value)
            assert write(normal) == ft.to_db(f, normal), (f.type, value)


def _reference_serialize(col: Collection, raw: dict[str, Any], su: bool) -> dict[str, Any]:
    """The per-field loop the codec replaced."""
    out: dict[str, Any] = {"collectionId": col.id, "collectionName": col.name}
    for f in col.fields:
        if f.hidden and not su:
            continue
        if col.is_auth and f.name in ("password", "tokenKey"):
            continue
        out[f.name] = field_type(f.type).from_db(f, raw.get(f.name))
    return out


def test_serialize_matches_the_per_field_loop() -> None:
    col = _col()
    rng = random.Random(3)
    superuser = RequestContext(auth=type("SU", (), {"is_superuser": True})())  # type: ignore[arg-type]
    for _ in range(200):
        raw = {f.name: rng.choice(ODD_VALUES) for f in col.fields}
        for req, su in ((RequestContext(), False), (superuser, True)):
            got = serialize(col, raw, req)
            assert got == _reference_serialize(col, raw, su)
            assert list(got) == list(_reference_serialize(col, raw, su))  # key order too
        assert normalized(col, raw) == {
            f.name: field_type(f.type).from_db(f, raw.get(f.name)) for f in col.fields
        }


def test_hidden_and_secret_fields_stay_out() -> None:
    col = Collection(
        name="u",
        type="auth",
        fields=[
            Field("id", "text"),
            Field("password", "password"),
            Field("tokenKey", "text"),
            Field("email", "email"),
            Field("note", "text", hidden=True),
        ],
    )
    codec = codec_of(col)
    assert [n for n, _ in codec.readers] == ["id", "email", "note"]
    assert [n for n, _ in codec.public_readers] == ["id", "email"]
    assert [n for n, _ in codec.all_readers] == ["id", "password", "tokenKey", "email", "note"]


def test_codec_is_built_once_per_schema() -> None:
    col = _col()
    first = codec_of(col)
    assert codec_of(col) is first
    col.fields.append(Field("extra", "text"))  # a field list grown in place
    second = codec_of(col)
    assert second is not first and second.all_readers[-1][0] == "extra"
    col.fields = [Field("id", "text")]  # replaced
    assert [n for n, _ in codec_of(col).all_readers] == ["id"]
    import copy

    twin = copy.deepcopy(col)  # how a collection update starts
    assert twin.__dict__.get("_codec") is None
    assert codec_of(twin) is not codec_of(col)


def _slow_normalize(value: str) -> str:
    """What normalize_datetime gave before its shortcut: the general layout walk."""
    for layout, _ in ((PB_LAYOUT, False), *CAST_LAYOUTS):
        try:
            parsed, offset = parse_layout(layout, value)
        except Exception:
            continue
        if offset:
            break  # a zoned layout: not the shortcut's business
        return parsed.pb_string()
    return normalize_datetime(value)


def test_date_shortcut_equals_the_layout_walk() -> None:
    rng = random.Random(5)
    values = ["0001-01-01 00:00:00.000Z", "0001-01-01 00:00:00.001Z", "0000-02-29 00:00:00.000Z"]
    values += ["1900-02-29 00:00:00.000Z", "2000-02-29 23:59:59.999Z", "2025-13-01 00:00:00.000Z"]
    values += ["2025-01-01 24:00:00.000Z", "2025-01-01 00:60:00.000Z", "2025-04-31 00:00:00.000Z"]
    for _ in range(2000):
        values.append(
            f"{rng.randint(0, 9999):04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d} "
            f"{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:{rng.randint(0, 61):02d}.{rng.randint(0, 999):03d}Z"
        )
    for value in values:
        assert normalize_datetime(value) == _slow_normalize(value), value


def test_number_and_json_string_shortcuts_equal_the_long_way() -> None:
    import json

    from core.store.fields.cast import format_f, go_json_dumps, json_number

    rng = random.Random(9)
    floats = [0.0, -0.0, 1.0, -1.0, 2.0**53, -(2.0**53), 2.0**53 + 2, 1e15, 1e20, 123456789012345680.0]
    floats += [float(rng.randint(-(2**60), 2**60)) for _ in range(3000)]
    floats += [float(rng.randint(-(10**6), 10**6)) for _ in range(3000)]
    for value in floats:
        assert json_number(value) == int(format_f(value)), value
        assert type(json_number(value)) is int
    texts = [
        "",
        "plain",
        'quo"te\\',
        "tab\tnew\nline\r\x00\x1f\x7f",
        "<a href='x'>&amp;</a>",
        "é中文🙂",
        "\u2028\u2029",
    ]
    for text in texts:
        expected = (
            json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        )
        assert go_json_dumps(text) == expected


def test_generated_values_are_listed_once() -> None:
    col = Collection(
        name="g",
        fields=[
            Field("id", "text", options={"autogeneratePattern": "[a-z0-9]{15}"}),
            Field("slug", "text"),
            Field("made", "autodate", options={"onCreate": True, "onUpdate": False}),
            Field("touched", "autodate", options={"onCreate": False, "onUpdate": True}),
            Field("both", "autodate", options={"onCreate": True, "onUpdate": True}),
        ],
    )
    codec = codec_of(col)
    assert codec.stamped_on_create == ["made", "both"]
    assert codec.stamped_on_update == ["touched", "both"]
    assert codec.generated == [("id", "[a-z0-9]{15}")]
    values = codec.new_values()
    assert values == {"id": "", "slug": "", "made": "", "touched": "", "both": ""}


def test_json_number_shortcut_equals_the_digit_walk() -> None:
    from core.store.fields.cast import _format_fixed, _shortest, format_json_number

    rng = random.Random(13)
    values = [1e-4, 1e16 - 2, 0.1, 0.3, 2.5, 1 / 3, 123456.789, 9007199254740993.0, 5e-5, 1e-4 * 0.999]
    for _ in range(5000):
        values.append(rng.uniform(-1, 1) * 10 ** rng.randint(-6, 17))
        values.append(float(rng.randint(-(10**17), 10**17)))
    for value in values:
        if 1e-6 <= abs(value) < 1e21:
            assert format_json_number(value) == _format_fixed(*_shortest(value)), repr(value)

"""Record values through every field type, against what PocketBase 0.40.6 answered.

Each case is (field, input as sent in a JSON body, expected): the expected value is either the
record's JSON value after create, or the `data.<field>` error object of the 400 response. They
were recorded by POSTing the same inputs to the real binary (see test_fields_pocketbase.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from core.store.fields import FieldError, ValidationContext, field_type
from core.store.schema import Collection, Field


def ctx(
    *,
    old: dict[str, Any] | None = None,
    existing: frozenset[str] = frozenset(),
    targets: tuple[str, ...] = ("pbc_tgt",),
) -> ValidationContext:
    found = {cid: Collection(name=cid, id=cid) for cid in targets}
    return ValidationContext(
        collection=Collection(name="test", id="pbc_test"),
        is_new=old is None,
        old=old,
        find_collection=found.get,
        existing_ids=lambda _col, ids: {i for i in ids if i in existing},
    )


def outcome(field: Field, raw: Any, context: ValidationContext | None = None) -> Any:
    """The API value after a create, or the field's error JSON."""
    ft = field_type(field.type)
    value = ft.normalize(field, raw)
    try:
        ft.validate(field, value, context or ctx())
    except FieldError as e:
        return e.to_json()
    return ft.from_db(field, ft.to_db(field, value))


def err(code: str, message: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "message": message}
    if params is not None:
        out["params"] = params
    return out


REQUIRED = err("validation_required", "Cannot be blank.")


def run_table(field: Field, cases: list[tuple[Any, Any]]) -> None:
    failures = [
        (raw, outcome(field, raw), expected) for raw, expected in cases if outcome(field, raw) != expected
    ]
    assert failures == []


# -- text ------------------------------------------------------------------------------------------

TEXT = Field("t", "text", options={"min": 3, "max": 5, "pattern": "^[a-z]+$"})
TEXT_CASES: list[tuple[Any, Any]] = [
    ("ab", err("validation_min_text_constraint", "Must be at least 3 character(s).", {"min": 3})),
    ("abcdef", err("validation_max_text_constraint", "Must be no more than 5 character(s).", {"max": 5})),
    ("ABC", err("validation_invalid_format", "Invalid value format.")),
    ("abc", "abc"),
    (12, err("validation_min_text_constraint", "Must be at least 3 character(s).", {"min": 3})),
    (True, "true"),
    (None, ""),
    ([1, 2], ""),
    ({"a": 1}, ""),
    (1.5, err("validation_invalid_format", "Invalid value format.")),
    ("éé", err("validation_min_text_constraint", "Must be at least 3 character(s).", {"min": 3})),
]


def test_text() -> None:
    run_table(TEXT, TEXT_CASES)
    required = Field("tr", "text", required=True)
    run_table(required, [(None, REQUIRED), ("", REQUIRED), ("  ", "  ")])
    # max 0 means 5000
    run_table(
        Field("t0", "text"),
        [
            (
                "x" * 5001,
                err(
                    "validation_max_text_constraint", "Must be no more than 5000 character(s).", {"max": 5000}
                ),
            )
        ],
    )


ID = Field(
    "id",
    "text",
    system=True,
    required=True,
    options={
        "autogeneratePattern": "[a-z0-9]{15}",
        "max": 15,
        "min": 15,
        "pattern": "^[a-z0-9]+$",
        "primaryKey": True,
    },
)
CUSTOM_ID = Field(
    "id",
    "text",
    required=True,
    options={"primaryKey": True, "pattern": "^.+$", "min": 1, "max": 30, "autogeneratePattern": "[a-z]{10}"},
)


def test_primary_key() -> None:
    run_table(
        ID,
        [
            ("abc", err("validation_min_text_constraint", "Must be at least 15 character(s).", {"min": 15})),
            ("ABCDEFGHIJKLMNO", err("validation_invalid_format", "Invalid value format.")),
            ("abcdefghijklmn!", err("validation_invalid_format", "Invalid value format.")),
            ("abc/defghijklmn", err("validation_invalid_format", "Invalid value format.")),
            ("abcdefghijklmno", "abcdefghijklmno"),
            ("abcdefghijklmn\n", err("validation_invalid_format", "Invalid value format.")),
        ],
    )
    forbidden = "validation_forbidden_pk_character"
    run_table(
        CUSTOM_ID,
        [
            ("a.b", err(forbidden, "'.' is not a valid primary key character.", {"ch": "."})),
            ("a b", err(forbidden, "' ' is not a valid primary key character.", {"ch": " "})),
            ("a:b", err(forbidden, "':' is not a valid primary key character.", {"ch": ":"})),
            ("a%b", err(forbidden, "'%' is not a valid primary key character.", {"ch": "%"})),
            ("a$b", err(forbidden, "'$' is not a valid primary key character.", {"ch": "$"})),
            (
                "CON",
                err(
                    "validation_reserved_pk",
                    "The primary key 'CON' is reserved and cannot be used.",
                    {"reserved": "CON"},
                ),
            ),
            (
                "nul",
                err(
                    "validation_reserved_pk",
                    "The primary key 'NUL' is reserved and cannot be used.",
                    {"reserved": "NUL"},
                ),
            ),
            ("ok1", "ok1"),
            ("Ab", "Ab"),
        ],
    )


def test_primary_key_on_update_and_duplicates() -> None:
    changed = outcome(ID, "zzzzzzzzzzzzzzz", ctx(old={"id": "abcdefghijklmno"}))
    assert changed == err("validation_pk_change", "The record primary key cannot be changed.")
    # an existing id is not re-validated (it may come from an import)
    assert outcome(ID, "legacy-ID", ctx(old={"id": "legacy-ID"})) == "legacy-ID"
    taken = ctx()
    taken.pk_taken = lambda _col, value: value.lower() == "ok1"
    assert outcome(CUSTOM_ID, "OK1", taken) == err(
        "validation_pk_invalid", "The record primary key is invalid or already exists."
    )


def test_autogenerate() -> None:
    from core.store.fields import autogenerate

    slug = Field("slug", "text", options={"autogeneratePattern": "[a-z]{5}"})
    ft = field_type("text")
    assert len(autogenerate(slug, "", True)) == 5
    assert autogenerate(slug, "given", True) == "given"
    assert autogenerate(slug, "", False) == ""
    prefixed = ft.apply_modifier(slug, "", "autogenerate", "pre-")
    assert prefixed.startswith("pre-") and len(prefixed) == 9
    assert ft.apply_modifier(Field("t", "text"), "", "autogenerate", "pre-") == "pre-"


# -- number / bool ---------------------------------------------------------------------------------

NUMBER = Field("n", "number", options={"min": -5, "max": 10.5})
NUMBER_MAX = err("validation_max_number_constraint", "Must be less or equal than 10.5.", {"max": 10.5})
NOT_A_NUMBER = err("validation_not_a_number", "The submitted number is not properly formatted.")
NUMBER_CASES: list[tuple[Any, Any]] = [
    ("12", NUMBER_MAX),
    ("abc", 0),
    ("", 0),
    (" 3 ", 0),
    ("1e2", NUMBER_MAX),
    ("0x10", 0),
    (True, 1),
    (False, 0),
    (None, 0),
    ([1], 0),
    ({"a": 1}, 0),
    (5, 5),
    (11, NUMBER_MAX),
    (-6, err("validation_min_number_constraint", "Must be greater or equal than -5.", {"min": -5})),
    (10.5, 10.5),
    (2.25, 2.25),
    (1e300, NUMBER_MAX),
    ("1_000", NUMBER_MAX),
    ("+4", 4),
    (".5", 0.5),
    ("NaN", NOT_A_NUMBER),
    ("Inf", NOT_A_NUMBER),
    ("infinity", NOT_A_NUMBER),
    ("-Inf", NOT_A_NUMBER),
    ("-0", 0),
    ("0x1p2", 4),  # Go reads hex floats with a p exponent
    ("1e400", 0),
    ("1__0", 0),
    ("1.", 1),
    ("1e", 0),
]


def test_number() -> None:
    run_table(NUMBER, NUMBER_CASES)
    only_int = err("validation_only_int_constraint", "Decimal numbers are not allowed.")
    run_table(
        Field("ni", "number", options={"onlyInt": True}),
        [(1.5, only_int), ("2.0", 2), (3, 3), (1e20, only_int)],
    )
    run_table(
        Field("nr", "number", required=True),
        [(0, REQUIRED), ("0", REQUIRED), (None, REQUIRED), ("x", REQUIRED)],
    )


@pytest.mark.parametrize(
    ("options", "raw", "expected"),
    [
        (
            {"min": 0.00001, "max": 1000000},
            2000000,
            err("validation_max_number_constraint", "Must be less or equal than 1e+06.", {"max": 1000000}),
        ),
        (
            {"min": 0.00001, "max": 1000000},
            0.000001,
            err("validation_min_number_constraint", "Must be greater or equal than 1e-05.", {"min": 1e-05}),
        ),
        (
            {"max": 1234567},
            1e9,
            err(
                "validation_max_number_constraint",
                "Must be less or equal than 1.234567e+06.",
                {"max": 1234567},
            ),
        ),
        (
            {"max": 1e23},
            1e30,
            err("validation_max_number_constraint", "Must be less or equal than 1e+23.", {"max": 1e23}),
        ),
    ],
)
def test_number_messages_print_go_floats(options: dict[str, Any], raw: Any, expected: Any) -> None:
    assert outcome(Field("n", "number", options=options), raw) == expected


def test_bool() -> None:
    cases: list[tuple[Any, Any]] = [
        ("true", True),
        ("1", True),
        ("on", False),
        ("yes", False),
        ("t", True),
        ("TRUE", True),
        ("tRue", False),
        ("false", False),
        ("", False),
        (1, True),
        (0, False),
        (2, True),
        (-1, True),
        (0.5, True),
        (None, False),
        ([1], False),
        ({"a": 1}, False),
        (" true", False),
    ]
    run_table(Field("b", "bool"), cases)
    run_table(Field("br", "bool", required=True), [(False, REQUIRED), (True, True)])


# -- email / url / editor --------------------------------------------------------------------------

INVALID_EMAIL = err("validation_is_email", "Must be a valid email address.")
EMAIL_DOMAIN = err("validation_email_domain_not_allowed", "Email domain is not allowed.")


def test_email() -> None:
    run_table(
        Field("e", "email"),
        [("x", INVALID_EMAIL), ("a@b.c", "a@b.c"), (12, INVALID_EMAIL), ("", ""), (None, "")],
    )
    run_table(Field("er", "email", required=True), [("", REQUIRED)])
    only = Field("eo", "email", options={"onlyDomains": ["a.com"]})
    run_table(
        only,
        [
            ("a@a.com", "a@a.com"),
            ("a@b.com", EMAIL_DOMAIN),
            ("a@A.com", EMAIL_DOMAIN),
            ("a@sub.a.com", EMAIL_DOMAIN),
        ],
    )
    run_table(
        Field("ex", "email", options={"exceptDomains": ["b.com"]}),
        [("a@b.com", EMAIL_DOMAIN), ("a@c.com", "a@c.com")],
    )


INVALID_URL = err("validation_invalid_url", "Must be a valid url.")
URL_DOMAIN = err("validation_url_domain_not_allowed", "Url domain is not allowed.")


def test_url() -> None:
    run_table(
        Field("u", "url"), [("x", INVALID_URL), ("example.com", "example.com"), ("HTTP://A.COM", INVALID_URL)]
    )
    only = Field("uo", "url", options={"onlyDomains": ["a.com"]})
    run_table(
        only,
        [
            ("http://a.com/x", "http://a.com/x"),
            ("http://a.com:80/x", URL_DOMAIN),  # the port is part of the host
            ("http://A.com", URL_DOMAIN),
            ("http://b.com", URL_DOMAIN),
            ("http://user@a.com", "http://user@a.com"),
        ],
    )
    run_table(
        Field("ux", "url", options={"exceptDomains": ["b.com"]}),
        [("https://b.com", URL_DOMAIN), ("https://c.com", "https://c.com")],
    )


def test_editor() -> None:
    size_error = err(
        "validation_content_size_limit", "The maximum allowed content size is 10 bytes.", {"maxSize": 10}
    )
    cases: list[tuple[Any, Any]] = [
        ("<p>hi</p>", "<p>hi</p>"),
        ("x" * 11, size_error),
        ("é" * 6, size_error),  # bytes, not characters
        (12, "12"),
        (True, "true"),
        (None, ""),
        ([1], ""),
    ]
    run_table(Field("ed", "editor", options={"maxSize": 10}), cases)
    run_table(Field("edr", "editor", required=True), [("", REQUIRED)])
    default = err(
        "validation_content_size_limit",
        "The maximum allowed content size is 5242880 bytes.",
        {"maxSize": 5242880},
    )
    run_table(Field("ed0", "editor"), [("x" * (5 * 1024 * 1024 + 1), default)])


# -- dates -----------------------------------------------------------------------------------------


def test_date() -> None:
    cases: list[tuple[Any, Any]] = [
        ("2024-01-02 03:04:05Z", "2024-01-02 03:04:05.000Z"),
        ("2024-01-02T03:04:05+02:00", "2024-01-02 01:04:05.000Z"),
        ("garbage", ""),
        (1704164645, ""),  # JSON numbers are not timestamps
        (0, ""),
        (True, ""),
        (None, ""),
        (1.5, ""),
    ]
    run_table(Field("d", "date"), cases)
    run_table(
        Field("dr", "date", required=True),
        [("garbage", REQUIRED), ("2024-01-01", "2024-01-01 00:00:00.000Z")],
    )
    bounded = Field(
        "dm", "date", options={"min": "2020-01-01 00:00:00.000Z", "max": "2021-01-01 00:00:00.000Z"}
    )
    run_table(
        bounded,
        [
            (
                "2019-12-31 23:59:59.999Z",
                err(
                    "validation_min_greater_equal_than_required",
                    "Must be no less than 2020-01-01 00:00:00 +0000 UTC.",
                    {"threshold": "2020-01-01T00:00:00Z"},
                ),
            ),
            ("2020-01-01 00:00:00.000Z", "2020-01-01 00:00:00.000Z"),
            ("2021-01-01 00:00:00.000Z", "2021-01-01 00:00:00.000Z"),
            (
                "2021-01-01 00:00:00.001Z",
                err(
                    "validation_max_less_equal_than_required",
                    "Must be no greater than 2021-01-01 00:00:00 +0000 UTC.",
                    {"threshold": "2021-01-01T00:00:00Z"},
                ),
            ),
        ],
    )


def test_autodate_and_now() -> None:
    import re

    from core.store.fields import now_datetime

    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z", now_datetime())
    run_table(Field("ad", "autodate"), [("2020-01-01", "2020-01-01 00:00:00.000Z"), ("x", "")])


# -- select / relation -----------------------------------------------------------------------------


def invalid_value(v: str) -> dict[str, Any]:
    return err("validation_invalid_value", f"Invalid value {v}.", {"value": v})


def too_many(n: int) -> dict[str, Any]:
    return err("validation_too_many_values", f"Select no more than {n}.", {"maxSelect": n})


def test_select_single() -> None:
    cases: list[tuple[Any, Any]] = [
        ("a", "a"),
        ("z", invalid_value("z")),
        (["a", "b"], "b"),  # the last one wins
        (["b", "a"], "a"),
        (["a", "a"], "a"),
        ([], ""),
        ("", ""),
        (None, ""),
        (1, "1"),
        (["z", "a"], "a"),
        ('["a","b"]', "b"),
        ("a,b", invalid_value("a,b")),
        (["", "a"], "a"),
        ([1], "1"),
        (True, invalid_value("true")),
        ({"a": 1}, ""),
        (1.5, invalid_value("1.5")),
    ]
    run_table(Field("s", "select", options={"values": ["a", "b", "c", "1"]}), cases)
    run_table(
        Field("sr", "select", required=True, options={"values": ["a"]}), [(None, REQUIRED), ([], REQUIRED)]
    )


def test_select_multi() -> None:
    cases: list[tuple[Any, Any]] = [
        ("a", ["a"]),
        (["a", "b"], ["a", "b"]),
        (["b", "a", "b"], ["b", "a"]),
        (["a", "b", "c", "d"], too_many(3)),
        (["a", "z"], invalid_value("z")),
        (["z", "y"], invalid_value("z")),
        ('["a","b"]', ["a", "b"]),
        ([], []),
        ("", []),
        (None, []),
        ([1], ["1"]),
        (1, ["1"]),
        (["a", ""], ["a"]),
        (["a", None], ["a"]),
        ([["a"]], []),
        ('["a"', invalid_value('["a"')),
        ("a b", invalid_value("a b")),
        ([1e21], invalid_value("1000000000000000000000")),
    ]
    run_table(Field("sm", "select", options={"values": ["a", "b", "c", "d", "1"], "maxSelect": 3}), cases)
    run_table(
        Field("smr", "select", required=True, options={"values": ["a", "b"], "maxSelect": 2}),
        [([""], REQUIRED)],
    )


A, B, C, D = "q8hxy7zmk262ehn", "1dzqcfmg510lcl2", "d7m4yft9luga122", "jx54baqgwvcgpz5"
MISSING_RECORDS = err(
    "validation_missing_rel_records", "Failed to find all relation records with the provided ids."
)


def test_relation() -> None:
    known = ctx(existing=frozenset({A, B, C, D}))
    single = Field("r", "relation", options={"collectionId": "pbc_tgt"})
    for raw, expected in [
        (A, A),
        ("nonexist", MISSING_RECORDS),
        ([A, B], B),
        ("", ""),
        (None, ""),
        ([], ""),
        ([A, "nonexist"], MISSING_RECORDS),
    ]:
        assert outcome(single, raw, known) == expected, raw
    multi = Field("rm", "relation", options={"collectionId": "pbc_tgt", "maxSelect": 3, "minSelect": 2})
    not_enough = err("validation_not_enough_values", "Select at least 2.", {"minSelect": 2})
    for raw, expected in [
        (A, not_enough),
        ([A, B], [A, B]),
        ([A, B, C, D], too_many(3)),
        ([A, A], not_enough),
        ([A, B, A], [A, B]),
        (["n1", "n2"], MISSING_RECORDS),
        ([A, "n1"], MISSING_RECORDS),
        ([], []),
        (f'["{A}","{B}"]', [A, B]),
    ]:
        assert outcome(multi, raw, known) == expected, raw
    assert (
        outcome(Field("rr", "relation", required=True, options={"collectionId": "pbc_tgt"}), None, known)
        == REQUIRED
    )
    gone = Field("r", "relation", options={"collectionId": "pbc_gone"})
    assert outcome(gone, A, known) == err(
        "validation_missing_rel_collection", "Relation connection is missing or cannot be accessed."
    )


@pytest.mark.parametrize(
    ("field", "current", "modifier", "value", "expected"),
    [
        (Field("sm", "select", options={"maxSelect": 3}), ["a", "b"], "prepend", ["c", "a"], ["c", "a", "b"]),
        (Field("sm", "select", options={"maxSelect": 3}), ["a", "b", "c"], "+", "d", ["a", "b", "c", "d"]),
        (Field("sm", "select", options={"maxSelect": 3}), ["a", "b"], "-", ["c", "zz", "a"], ["b"]),
        (Field("s", "select"), "a", "+", "b", "b"),
        (Field("s", "select"), "b", "prepend", "c", "b"),
        (Field("s", "select"), "b", "-", "c", "b"),
        (Field("s", "select"), "b", "-", "b", ""),
        (Field("r", "relation", options={"maxSelect": 5}), '["x"]', "+", ["y", "x"], ["x", "y"]),
        (Field("n", "number"), 2, "+", "3", 5),
        (Field("n", "number"), 5, "-", 1.5, 3.5),
        (Field("n", "number"), 3.5, "+", "abc", 3.5),
        (Field("n", "number"), None, "-", 1, -1),
    ],
)
def test_modifiers(field: Field, current: Any, modifier: str, value: Any, expected: Any) -> None:
    assert field_type(field.type).apply_modifier(field, current, modifier, value) == expected


@pytest.mark.parametrize(("type_", "current"), [("bool", False), ("text", ""), ("json", None), ("date", "")])
def test_unsupported_modifier_is_ignored(type_: str, current: Any) -> None:
    # PocketBase drops `b+`, `+t`, `t-` keys for types without those setters
    for modifier in ("+", "prepend", "-"):
        assert field_type(type_).apply_modifier(Field("x", type_), current, modifier, "abc") == current


# -- json / geoPoint / password --------------------------------------------------------------------


def test_json() -> None:
    size = err("validation_json_size_limit", "The maximum allowed JSON size is 20 bytes.", {"maxSize": 20})
    cases: list[tuple[Any, Any]] = [
        (None, None),
        (1, 1),
        (1.5, 1.5),
        ("abc", "abc"),
        ("", ""),
        ("1", 1),  # a JSON-looking string is JSON, even in a JSON body
        ("[1,2]", [1, 2]),
        ('{"a":1}', {"a": 1}),
        ("null", None),
        ("true", True),
        ('"q"', "q"),
        ([1, 2], [1, 2]),
        ({"a": [1]}, {"a": [1]}),
        (False, False),
        ([], []),
        ({}, {}),
        ("x" * 30, size),
        ({"k": "v" * 30}, size),
        (1e20, size),  # 100000000000000000000 is 21 bytes
        (12345678901234567890, 12345678901234567000),
        ("01", "01"),
        ("1e3", 1000.0),
        ("[1,", "[1,"),
        (" [1]", " [1]"),
        ("True", "True"),
        ("-", "-"),
        ("-Infinity", "-Infinity"),
        ("{bad", "{bad"),
        ("9abc", "9abc"),
        ("1.50", 1.5),
    ]
    run_table(Field("j", "json", options={"maxSize": 20}), cases)
    required_cases: list[tuple[Any, Any]] = [
        (None, REQUIRED),
        (0, 0),
        ("", REQUIRED),
        ([], REQUIRED),
        ({}, REQUIRED),
        ("null", REQUIRED),
        ('""', REQUIRED),
        ("[]", REQUIRED),
        ("{}", REQUIRED),
        (" ", " "),
        (False, False),
        ("  null ", "  null "),
    ]
    run_table(Field("jr", "json", required=True), required_cases)


def test_json_rejects_nan() -> None:
    assert outcome(Field("j", "json"), [float("nan")]) == err(
        "validation_invalid_json", "Must be a valid json value."
    )


LATITUDE = err("validation_invalid_latitude", "Latitude must be between -90 and 90 degrees.")
LONGITUDE = err("validation_invalid_longitude", "Longitude must be between -180 and 180 degrees.")


def test_geopoint() -> None:
    zero = {"lon": 0, "lat": 0}
    cases: list[tuple[Any, Any]] = [
        ({"lon": 1, "lat": 2}, {"lon": 1, "lat": 2}),
        ({"lon": 181, "lat": 2}, LONGITUDE),
        ({"lon": 1, "lat": 91}, LATITUDE),
        ({"lon": -180, "lat": -90}, {"lon": -180, "lat": -90}),
        ({"lon": 200, "lat": 100}, LATITUDE),
        ({"lon": "1", "lat": 2}, zero),
        ({"lat": 5}, {"lon": 0, "lat": 5}),
        ({}, zero),
        (None, zero),
        ("", zero),
        ('{"lon":3,"lat":4}', {"lon": 3, "lat": 4}),
        ("abc", zero),
        ([1, 2], zero),
        (5, zero),
        ({"lon": 1, "lat": 2, "x": 3}, {"lon": 1, "lat": 2}),
        ({"Lon": 1, "LAT": 2}, zero),
        ({"lon": 1.5, "lat": -2.25}, {"lon": 1.5, "lat": -2.25}),
        ({"lon": None, "lat": 1}, {"lon": 0, "lat": 1}),
        ({"lon": True, "lat": 1}, zero),
    ]
    run_table(Field("g", "geoPoint"), cases)
    run_table(Field("gr", "geoPoint", required=True), [({"lon": 0, "lat": 0}, REQUIRED), (None, REQUIRED)])


def test_password() -> None:
    from core.auth.passwords import verify_password
    from core.store.fields import PlainPassword

    field = Field("p", "password", options={"min": 3, "max": 6, "pattern": "^[a-z]+$"})
    cases: list[tuple[Any, Any]] = [
        ("ab", err("validation_min_text_constraint", "Must be at least 3 character(s).")),
        ("abcdefg", err("validation_max_text_constraint", "Must be less than 6 character(s).")),
        ("ABC", err("validation_invalid_format", "Invalid value format.")),
        ("abc", ""),  # never shown
        ("", ""),
        (None, ""),
        (123, err("validation_invalid_format", "Invalid value format.")),
        ("ééé", err("validation_invalid_format", "Invalid value format.")),
    ]
    run_table(field, cases)
    run_table(Field("pr", "password", required=True), [("", REQUIRED), (None, REQUIRED), ("x", ""), (0, "")])
    default_max = Field("p0", "password")
    run_table(
        default_max, [("y" * 72, err("validation_max_text_constraint", "Must be less than 71 character(s)."))]
    )

    ft = field_type("password")
    new = ft.normalize(default_max, "secret")
    assert isinstance(new, PlainPassword)
    stored = ft.to_db(default_max, new)
    assert stored != "secret" and verify_password(stored, "secret")
    assert ft.to_db(default_max, ft.normalize(default_max, "")) == ""  # clearing it
    # an untouched stored hash passes through; only `required` looks at it
    assert ft.to_db(default_max, stored) == stored
    ft.validate(Field("pr", "password", required=True, options={"min": 50}), stored, ctx())
    with pytest.raises(FieldError):
        ft.validate(Field("pr", "password", required=True), "", ctx(old={"pr": stored}))

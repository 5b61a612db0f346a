from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from core.realtime.topics import Subscription, parse, record_bases, validate


def opts(value: object) -> str:
    return "?options=" + quote(json.dumps(value))


@pytest.mark.parametrize(
    ("topic", "base", "query", "headers"),
    [
        ("posts/*", "posts/*", {}, {}),
        ("posts", "posts", {}, {}),
        ("@oauth2", "@oauth2", {}, {}),
        ("posts/abc" + opts({"query": {"expand": "author"}}), "posts/abc", {"expand": "author"}, {}),
        (
            "posts/*"
            + opts({"query": {"page": 2, "f": 1.5, "b": True, "n": None}, "headers": {"X-Token": 1}}),
            "posts/*",
            {"page": "2", "f": "1.5", "b": "true", "n": ""},
            {"x_token": "1"},
        ),
        ("posts/*?options=not-json", "posts/*", {}, {}),
        ("posts/*?options=%5B1%5D", "posts/*", {}, {}),  # a JSON array is not options
        ("posts/*?other=1", "posts/*", {}, {}),
        ('posts/*?options={"query":{"a":"b c"}}', "posts/*", {"a": "b c"}, {}),
    ],
)
def test_parse(topic: str, base: str, query: dict[str, str], headers: dict[str, str]) -> None:
    assert parse(topic) == Subscription(topic, base, query, headers)


def test_equal_options_share_a_key() -> None:
    a = parse("posts/*" + opts({"query": {"a": "1", "b": "2"}}))
    b = parse("posts/x" + opts({"query": {"b": "2", "a": "1"}}))
    assert a.options_key == b.options_key


def test_record_bases() -> None:
    assert record_bases("pbc_1", "posts", "r1") == [
        ("posts/r1", "viewRule"),
        ("pbc_1/r1", "viewRule"),
        ("posts/*", "listRule"),
        ("pbc_1/*", "listRule"),
        ("posts", "listRule"),
        ("pbc_1", "listRule"),
    ]


@pytest.mark.parametrize(
    ("client_id", "topics", "errors"),
    [
        ("abc", [], {}),
        ("abc", ["x"] * 1000, {}),
        ("", [], {"clientId": {"code": "validation_required", "message": "Cannot be blank."}}),
        (
            "abc",
            ["x"] * 1001,
            {
                "subscriptions": {
                    "code": "validation_length_too_long",
                    "message": "The length must be no more than 1000.",
                    "params": {"max": 1000, "min": 0},
                }
            },
        ),
        (
            "abc",
            ["ok", "x" * 2501],
            {
                "subscriptions": {
                    "1": {
                        "code": "validation_length_too_long",
                        "message": "The length must be no more than 2500.",
                        "params": {"max": 2500, "min": 0},
                    }
                }
            },
        ),
    ],
)
def test_validate(client_id: str, topics: list[str], errors: dict[str, object]) -> None:
    assert validate(client_id, topics) == errors

"""Realtime topics as PocketBase reads them (tools/subscriptions/client.go). Pure: no I/O.

A topic is `COLLECTION/*`, `COLLECTION/RECORD_ID`, the legacy `COLLECTION` (= `/*`) or any
other name (e.g. `@oauth2`), where COLLECTION is a collection name or id. It may end in
`?options=<urlencoded JSON {query, headers}>`. Events are sent under the exact string the client
subscribed with, options included, so the string itself is the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from core.store.fields.file import snakecase

MAX_TOPICS = 1000
MAX_TOPIC_LENGTH = 2500
OAUTH2_TOPIC = "@oauth2"


OptionsKey = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Subscription:
    topic: str  # exactly as subscribed: the SSE event name
    base: str  # the topic without its `?...` part: what events are matched against
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # computed once here, used for every event: the frame's event name and a hashable form of
    # the options (subscriptions with equal options get equal rule results and payloads)
    event: bytes = field(default=b"", compare=False)
    options_key: OptionsKey = field(default=((), ()), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "event", self.topic.encode())
        key = (tuple(sorted(self.query.items())), tuple(sorted(self.headers.items())))
        object.__setattr__(self, "options_key", key)


def parse(topic: str) -> Subscription:
    base, sep, raw_query = topic.partition("?")
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    if sep:
        options = _options(raw_query)
        query = {str(k): _to_string(v) for k, v in _dict(options.get("query")).items()}
        # header names as rules see them: `X-Token` -> `x_token` (PocketBase's inflector.Snakecase)
        headers = {snakecase(str(k)): _to_string(v) for k, v in _dict(options.get("headers")).items()}
    return Subscription(topic, base, query, headers)


def _options(raw_query: str) -> dict[str, Any]:
    # a malformed options value is ignored, not an error (Go drops the json.Unmarshal error)
    values = parse_qs(raw_query, keep_blank_values=True).get("options")
    if not values or not values[0]:
        return {}
    try:
        decoded = json.loads(values[0])
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _to_string(value: Any) -> str:
    """spf13/cast.ToString for JSON values: numbers and bools print, anything else is ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Go's FormatFloat(f, 'f', -1, 64): shortest digits, never an exponent
        return format(Decimal(repr(value)), "f") if not value.is_integer() else str(int(value))
    return ""


def record_bases(collection_id: str, collection_name: str, record_id: str) -> list[tuple[str, str]]:
    """The topic bases a record event is published under, each with the rule that guards it."""
    return [
        (f"{collection_name}/{record_id}", "viewRule"),
        (f"{collection_id}/{record_id}", "viewRule"),
        (f"{collection_name}/*", "listRule"),
        (f"{collection_id}/*", "listRule"),
        # the deprecated bare collection topic, kept by PocketBase for backward compatibility
        (collection_name, "listRule"),
        (collection_id, "listRule"),
    ]


def validate(client_id: Any, topics: Any) -> dict[str, Any]:
    """PocketBase's realtimeSubscribeForm.validate: field errors, empty when valid."""
    errors: dict[str, Any] = {}
    if not isinstance(client_id, str) or not client_id:
        errors["clientId"] = {"code": "validation_required", "message": "Cannot be blank."}
    elif len(client_id) > 255:
        errors["clientId"] = {
            "code": "validation_length_out_of_range",
            "message": "The length must be between 1 and 255.",
            "params": {"max": 255, "min": 1},
        }
    if len(topics) > MAX_TOPICS:
        errors["subscriptions"] = {
            "code": "validation_length_too_long",
            "message": f"The length must be no more than {MAX_TOPICS}.",
            "params": {"max": MAX_TOPICS, "min": 0},
        }
        return errors
    per_item = {
        str(i): {
            "code": "validation_length_too_long",
            "message": f"The length must be no more than {MAX_TOPIC_LENGTH}.",
            "params": {"max": MAX_TOPIC_LENGTH, "min": 0},
        }
        for i, topic in enumerate(topics)
        if len(topic) > MAX_TOPIC_LENGTH
    }
    if per_item:
        errors["subscriptions"] = per_item
    return errors

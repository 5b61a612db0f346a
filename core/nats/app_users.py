"""NATS users for app users (browsers, devices): per-collection subject permissions and the
short-lived user JWTs `POST /api/nats/token` hands out. Pure: no files, no network.

A collection's permissions are subject templates: `{{id}}` and `{{collectionName}}` become the
record's id and its collection's name, so `app.users.{{id}}.>` gives every user a subject space
of their own. Whatever a template grants, issued users are refused core's own subjects and the
system account's; `pb.>` (record events, logs) and `$JS.>` (the JetStream API, which would reach
every stream of the account) are refused too unless a template names them explicitly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.nats import creds
from core.nats.auth import INTERNAL_PREFIX

DEFAULT_TTL = 15 * 60
# refused to every issued app user, whatever the collection grants
ALWAYS_DENIED = (f"{INTERNAL_PREFIX}>", "$SYS.>")
# refused unless a template of the collection starts with the same first token
DENIED_UNLESS_GRANTED = ("pb", "$JS", "$KV", "$O")
KEYS = ("publish", "subscribe")
PLACEHOLDERS = ("{{id}}", "{{collectionName}}")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# a record id or collection name only ever fills one subject token: no dots, spaces or wildcards
_TOKEN_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
_RESERVED_FIRST = {INTERNAL_PREFIX.rstrip("."), "$SYS"}


class InvalidPermission(ValueError):
    """A permission template that must not be stored; `field` says which list it is in."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        return {"publish": list(self.publish), "subscribe": list(self.subscribe)}


def check_subject_template(template: str) -> str | None:
    """Why `template` cannot be a permission, or None when it can."""
    if not isinstance(template, str) or not template.strip():
        return "Must be a non-empty subject."
    if template != template.strip() or any(c.isspace() for c in template):
        return "A subject has no spaces."
    for name in _PLACEHOLDER.findall(template):
        if f"{{{{{name}}}}}" not in PLACEHOLDERS:
            return f"Unknown placeholder {{{{{name}}}}} (use {' or '.join(PLACEHOLDERS)})."
    tokens = _PLACEHOLDER.sub("x", template).split(".")
    for index, token in enumerate(tokens):
        if not token:
            return "A subject has no empty tokens."
        if ("*" in token or ">" in token) and token not in ("*", ">"):
            return "Wildcards stand for whole tokens."
        if token == ">" and index != len(tokens) - 1:
            return "`>` may only be the last token."
    first = template.split(".")[0]
    if first in ("*", ">") or _PLACEHOLDER.search(first):
        # a wildcard (or a value the client controls) up front would reach every prefix
        return "The first token must be a fixed name."
    if first in _RESERVED_FIRST:
        return f"`{first}.>` is reserved; no app user may use it."
    return None


def parse_permissions(value: Any) -> Permissions:
    """A collection's permissions from JSON, checked; raises InvalidPermission naming the list."""
    if not isinstance(value, Mapping):
        raise InvalidPermission("", "Must be an object with publish and subscribe lists.")
    lists: dict[str, tuple[str, ...]] = {}
    for key in KEYS:
        items = value.get(key) or []
        if not isinstance(items, list):
            raise InvalidPermission(key, "Must be a list of subjects.")
        for item in items:
            problem = check_subject_template(item)
            if problem:
                raise InvalidPermission(key, f"{item!r}: {problem}")
        lists[key] = tuple(dict.fromkeys(items))
    return Permissions(**lists)


def render(template: str, *, record_id: str, collection_name: str) -> str:
    values = {"id": record_id, "collectionName": collection_name}
    for value in values.values():
        if not _TOKEN_SAFE.match(value):
            raise ValueError(f"{value!r} cannot fill a subject token")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def denied_subjects(granted: Sequence[str]) -> list[str]:
    firsts = {subject.split(".")[0] for subject in granted}
    return [*ALWAYS_DENIED, *(f"{p}.>" for p in DENIED_UNLESS_GRANTED if p not in firsts)]


def lifetime(token_expires_at: int | None, max_ttl: int, *, now: int) -> int:
    """Seconds the NATS JWT lives: never past the auth token, never longer than `max_ttl`."""
    ttl = max_ttl
    if token_expires_at is not None:
        ttl = min(ttl, token_expires_at - now)
    return ttl


def issue(
    account_seed: str,
    permissions: Permissions,
    *,
    record_id: str,
    collection_name: str,
    expires_in: int,
    now: int | None = None,
) -> creds.Creds:
    """A user JWT (and its fresh seed) of the account whose seed is given, for one record."""
    issued_at = int(time.time()) if now is None else now

    def rendered(templates: tuple[str, ...]) -> list[str]:
        return [render(t, record_id=record_id, collection_name=collection_name) for t in templates]

    pub, sub = rendered(permissions.publish), rendered(permissions.subscribe)
    # an empty allow list means "everything" in a NATS JWT: nothing granted must stay nothing
    return creds.issue(
        account_seed,
        f"{collection_name}/{record_id}",
        pub_allow=pub or [_NOTHING],
        sub_allow=sub or [_NOTHING],
        deny=denied_subjects(pub + sub),
        expires_in=expires_in,
        now=issued_at,
    )


# a subject no one publishes to: what an otherwise empty allow list holds
_NOTHING = "_core.nothing"

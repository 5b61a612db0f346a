"""What a compile needs to know: the collection, the request, who is asking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.store.schema import Collection

CollectionFinder = Callable[[str], Collection | None]  # by name or id


@dataclass
class RequestInfo:
    """The request data rules can see as `@request.*`.

    `body` must already be normalized the way PocketBase normalizes it before evaluating rules:
    a multi-valued select/file/relation field holds a list even when a single string was sent
    (PocketBase compares `@request.body.cats` as `'["id"]'` after `cats: "id"` was posted), and
    modifiers such as `tags+` are applied. Headers are lower snake_case (`X-Token` -> `x_token`).
    """

    auth: dict[str, Any] | None = None  # raw DB values of the auth record
    auth_collection: Collection | None = None
    body: dict[str, Any] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    context: str = "default"  # default|expand|realtime|protectedFile|batch|oauth2|otp|password


@dataclass
class FilterContext:
    collection: Collection
    table_alias: str  # SQL text naming the main table in the caller's query, used verbatim
    find_collection: CollectionFinder
    request: RequestInfo = field(default_factory=RequestInfo)
    is_superuser: bool = False
    # True for a user-supplied ?filter/?sort: non-superusers may not use @request./@collection.,
    # may not touch hidden fields, and see related records only through their listRule
    client_filter: bool = False
    now: datetime | None = None
    # Set for the lists that are not records (collections, logs): fields then resolve only from
    # these names/patterns, like PocketBase's SimpleFieldResolver (see simple.py)
    allowed_fields: tuple[str, ...] | None = None

    @property
    def allow_hidden(self) -> bool:
        return self.is_superuser or not self.client_filter


@dataclass
class SQL:
    sql: str
    params: list[Any]

"""Who is asking and with what: the request data API rules can see (`@request.*`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.store.filter import RequestInfo
from core.store.schema import Collection

SUPERUSERS = "_superusers"


@dataclass
class Auth:
    record: dict[str, Any]  # the auth record's stored (normalized) values
    collection: Collection

    @property
    def id(self) -> str:
        return str(self.record.get("id", ""))

    @property
    def is_superuser(self) -> bool:
        return self.collection.name == SUPERUSERS


@dataclass
class RequestContext:
    auth: Auth | None = None
    body: dict[str, Any] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    context: str = "default"

    @property
    def is_superuser(self) -> bool:
        return self.auth is not None and self.auth.is_superuser

    def info(self) -> RequestInfo:
        return RequestInfo(
            auth=self.auth.record if self.auth else None,
            auth_collection=self.auth.collection if self.auth else None,
            body=self.body,
            query=self.query,
            headers=self.headers,
            method=self.method,
            context=self.context,
        )

    def with_context(self, context: str) -> RequestContext:
        return RequestContext(self.auth, self.body, self.query, self.headers, self.method, context)


def header_key(name: str) -> str:
    """`X-Token` -> `x_token`, the way PocketBase exposes headers to rules."""
    return name.lower().replace("-", "_")

"""Table-driven API scenarios, in the spirit of PocketBase's `tests.ApiScenario`.

A scenario names the request and what the compacted JSON body must and must not contain. Each
runs against a fresh copy of the fixture data set, in process (no sockets), so hundreds of
cases stay fast and independent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litestar.testing import AsyncTestClient

from core.app import App


@dataclass
class Scenario:
    name: str
    method: str
    url: str
    status: int
    body: Any = None
    auth: str | None = None  # "superuser", "user1", "user2" or a raw token
    headers: dict[str, str] = field(default_factory=dict)
    contains: list[str] = field(default_factory=list)
    not_contains: list[str] = field(default_factory=list)
    # extra checks on the app after the request (e.g. that nothing was written)
    after: Callable[[App, Any], None] | None = None
    multipart: dict[str, Any] | None = None

    def __str__(self) -> str:
        return self.name


def compact(raw: bytes) -> str:
    if not raw:
        return ""
    try:
        return json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return raw.decode(errors="replace")


async def run_scenario(client: AsyncTestClient[Any], app: App, tokens: dict[str, str], s: Scenario) -> None:
    headers = dict(s.headers)
    if s.auth:
        headers["Authorization"] = tokens.get(s.auth, s.auth)
    kwargs: dict[str, Any] = {"headers": headers}
    if s.multipart is not None:
        kwargs["files"] = s.multipart
    elif s.body is not None:
        if isinstance(s.body, (bytes, str)):
            kwargs["content"] = s.body
            headers.setdefault("Content-Type", "application/json")
        else:
            kwargs["json"] = s.body
    resp = await client.request(s.method, s.url, **kwargs)
    body = compact(resp.content)
    assert resp.status_code == s.status, (
        f"{s.name}: status {resp.status_code} != {s.status}; body: {body[:2000]}"
    )
    for fragment in s.contains:
        assert fragment in body, f"{s.name}: missing {fragment!r} in {body[:3000]}"
    for fragment in s.not_contains:
        assert fragment not in body, f"{s.name}: unexpected {fragment!r} in {body[:3000]}"
    if resp.status_code >= 400:
        data = json.loads(resp.content)
        assert set(data) == {"status", "message", "data"}, f"{s.name}: error shape {data}"
        assert data["status"] == resp.status_code
    if s.after is not None:
        s.after(app, resp)

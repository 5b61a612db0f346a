"""CORS and security headers (core/api/_headers.py): the origin rules of PocketBase's CORS
middleware, and one value per header when a route set its own. The answers as a whole are
compared with the PocketBase binary in tests/integration/test_pb_headers.py."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from core.api import build_asgi
from core.api._headers import CorsPolicy
from core.app import App

POLICY = ["http://a.test", "https://*.b.test", "http://pat?.test", "https://*.c.test:8443"]


@pytest.mark.parametrize(
    ("origins", "origin", "allowed"),
    [
        (["*"], "http://anything.test", "*"),
        (POLICY, "http://a.test", "http://a.test"),
        (POLICY, "http://a.test:80", None),
        (POLICY, "https://a.test", None),
        (POLICY, "https://x.b.test", "https://x.b.test"),
        (POLICY, "https://y.x.b.test", "https://y.x.b.test"),
        (POLICY, "https://b.test", None),
        (POLICY, "http://x.b.test", None),  # another scheme
        (POLICY, "http://pat1.test", "http://pat1.test"),
        (POLICY, "http://pat12.test", None),
        (POLICY, "https://x.c.test:8443", "https://x.c.test:8443"),
        (POLICY, "null", None),
        (POLICY, "https://" + "x." * 200 + "b.test", None),  # too long for any rule
    ],
)
def test_allowed_origin(origins: list[str], origin: str, allowed: str | None) -> None:
    assert CorsPolicy(origins).allowed(origin) == allowed


async def test_a_route_that_sets_a_security_header_keeps_its_own_value(app: App) -> None:
    async with AsyncTestClient(app=build_asgi(app)) as client:
        page = await client.get("/ds")
        health = await client.get("/api/health")
    assert page.headers.get_list("x-frame-options") == ["DENY"]
    assert page.headers.get_list("x-content-type-options") == ["nosniff"]
    assert health.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert health.headers["cross-origin-opener-policy"] == "same-origin"


async def test_preflight_is_answered_before_anything_else(app: App) -> None:
    async with AsyncTestClient(app=build_asgi(app)) as client:
        resp = await client.options(
            "/api/collections/posts/records",
            headers={"Origin": "http://x.test", "Access-Control-Request-Method": "POST"},
        )
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["access-control-allow-methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert "access-control-allow-headers" not in resp.headers  # none requested, none echoed
    assert "x-frame-options" not in resp.headers  # PocketBase's CORS answers before its security headers

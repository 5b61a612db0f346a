"""Bad input on every service endpoint: always a PocketBase-shaped 4xx, never a 500 or a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.app import App

ENDPOINTS = [
    ("PATCH", "/api/settings"),
    ("POST", "/api/settings/test/s3"),
    ("POST", "/api/settings/apple/generate-client-secret"),
    ("POST", "/api/backups"),
    ("POST", "/api/backups/upload"),
    ("POST", "/api/sql"),
    ("POST", "/api/crons/__pbDBOptimize__"),
    ("GET", "/api/logs"),
    ("GET", "/api/logs/stats"),
]

BODIES: list[tuple[str, bytes, str]] = [
    ("invalid json", b"{", "application/json"),
    ("json array", b"[1,2,3]", "application/json"),
    ("json string", b'"x"', "application/json"),
    ("json null", b"null", "application/json"),
    (
        "deep nulls",
        json.dumps({"meta": None, "smtp": {"port": None}, "rateLimits": {"rules": [None]}}).encode(),
        "application/json",
    ),
    (
        "huge numbers",
        json.dumps({"smtp": {"port": 10**30}, "batch": {"timeout": 1e308}, "duration": 10**40}).encode(),
        "application/json",
    ),
    (
        "wrong nested types",
        json.dumps({"rateLimits": {"rules": [1, "x"]}, "superuserIPs": [1], "query": ["x"]}).encode(),
        "application/json",
    ),
    ("not utf-8", b"\xff\xfe{\x00}", "application/json"),
    ("form data", b"a=1&b=2", "application/x-www-form-urlencoded"),
    (
        "broken multipart",
        b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        "multipart/form-data; boundary=x",
    ),
    ("text", b"hello", "text/plain"),
]

QUERIES = [
    "?filter=" + "a" * 4000,
    "?filter=data.x%3D1%20%7C%7C%20" * 1,
    "?sort=" + ",".join(["id"] * 20),
    "?page=-1&perPage=abc",
    "?fields=id:excerpt(",
    "?filter=%00",
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS, ids=[f"{m} {u}" for m, u in ENDPOINTS])
async def test_bad_bodies(client: Any, app: App, tokens: dict[str, str], method: str, url: str) -> None:
    for name, body, content_type in BODIES:
        resp = await client.request(
            method,
            url,
            content=body,
            headers={"Authorization": tokens["superuser"], "Content-Type": content_type},
        )
        assert resp.status_code < 500, f"{name}: {resp.status_code} {resp.text[:500]}"
        assert "Traceback" not in resp.text
        if resp.status_code >= 400:
            data = resp.json()
            assert set(data) == {"status", "message", "data"} and data["status"] == resp.status_code, name


async def test_bad_queries(client: Any, tokens: dict[str, str]) -> None:
    for url in ("/api/logs", "/api/logs/stats"):
        for query in QUERIES:
            resp = await client.get(url + query, headers={"Authorization": tokens["superuser"]})
            assert resp.status_code in (200, 400), f"{url}{query}: {resp.text}"
            if resp.status_code == 400:
                assert set(resp.json()) == {"status", "message", "data"}


async def test_backup_keys_cannot_escape(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    for key in ("..", "%2e%2e", "..%2Fdata.db", "a%00b.zip", "%2Fetc%2Fpasswd", "x" * 300):
        for method, url in (("DELETE", f"/api/backups/{key}"), ("POST", f"/api/backups/{key}/restore")):
            resp = await client.request(method, url, headers=su)
            assert resp.status_code in (400, 404), f"{method} {url}: {resp.text}"
    assert (app.store.dir / "data.db").exists()

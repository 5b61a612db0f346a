"""Differential: CORS (`--origins`), security headers and `superuserIPs`, core against the real
PocketBase binary. Both servers get the same requests; statuses, bodies and the headers that
matter must agree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess, start_target

TARGETS = ("pocketbase", "core")
ORIGINS = "http://a.test,https://*.b.test,http://pat?.test"
# what PocketBase's CORS and security middlewares set; everything else may differ
COMPARED = {
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "cross-origin-opener-policy",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    started: dict[str, ServerProcess] = {}
    try:
        for target in TARGETS:
            data = tmp_path_factory.mktemp(target) / "data"
            started[target] = start_target(target, data, extra_args=["--origins", ORIGINS])
        yield started
    finally:
        for proc in started.values():
            proc.stop()


def _headers(resp: httpx.Response) -> dict[str, Any]:
    found: dict[str, Any] = {k: v for k, v in resp.headers.items() if k in COMPARED}
    vary = sorted(v.strip() for value in resp.headers.get_list("vary") for v in value.split(","))
    found["vary"] = [v for v in vary if v != "Accept-Encoding"]
    return found


CASES = [
    ("GET", "/api/health", {}),
    ("GET", "/api/health", {"Origin": "http://a.test"}),
    ("GET", "/api/health", {"Origin": "http://c.test"}),
    ("GET", "/api/health", {"Origin": "https://x.b.test"}),
    ("GET", "/api/health", {"Origin": "https://b.test"}),
    ("GET", "/api/health", {"Origin": "http://pat1.test"}),
    ("GET", "/api/collections/users/records", {"Origin": "http://a.test"}),  # the hot path
    ("GET", "/api/collections/users/records/nope", {"Origin": "https://x.b.test"}),
    ("GET", "/api/nope", {"Origin": "http://a.test"}),
    ("GET", "/api/collections", {}),
    (
        "POST",
        "/api/collections/users/records",
        {"Origin": "http://a.test", "Content-Type": "application/json"},
    ),
    ("OPTIONS", "/api/health", {}),
    ("OPTIONS", "/api/health", {"Origin": "http://c.test", "Access-Control-Request-Method": "GET"}),
    (
        "OPTIONS",
        "/api/collections/users/records",
        {
            "Origin": "http://a.test",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    ),
    ("OPTIONS", "/anything/at/all", {"Origin": "https://x.b.test", "Access-Control-Request-Method": "GET"}),
]


@pytest.mark.parametrize(("method", "path", "headers"), CASES)
def test_cors_and_security_headers_match_pocketbase(
    servers: dict[str, ServerProcess], method: str, path: str, headers: dict[str, str]
) -> None:
    answers = {}
    for target, proc in servers.items():
        body = b"{}" if method == "POST" else None
        resp = httpx.request(method, f"{proc.url}{path}", headers=headers, content=body)
        answers[target] = (resp.status_code, _headers(resp))
    assert answers["core"] == answers["pocketbase"]


def _superuser_token(url: str) -> str:
    resp = httpx.post(
        f"{url}/api/collections/_superusers/auth-with-password",
        json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
    )
    resp.raise_for_status()
    return str(resp.json()["token"])


def _superuser_ips_answers(url: str) -> list[tuple[int, Any]]:
    token = _superuser_token(url)
    su = {"Authorization": token}
    resp = httpx.patch(
        f"{url}/api/settings",
        headers=su,
        json={"superuserIPs": ["10.0.0.1", "192.168.0.0/16"], "trustedProxy": {"headers": ["X-Real-Ip"]}},
    )
    assert resp.status_code == 200, resp.text
    requests: list[tuple[str, str, dict[str, str], Any]] = [
        ("GET", "/api/collections", su, None),
        ("GET", "/api/health", su, None),
        ("GET", "/api/collections/users/records", su, None),  # the hot path
        ("GET", "/api/nope", su, None),
        ("GET", "/api/collections/users/records", {}, None),  # guests are not concerned
        ("GET", "/api/collections", {**su, "X-Forwarded-For": "10.0.0.1"}, None),  # not a trusted header
        ("GET", "/api/collections/users/records", {**su, "X-Real-Ip": "192.168.4.5"}, None),
        ("POST", "/api/collections/_superusers/auth-refresh", su, None),
        (
            "POST",
            "/api/collections/_superusers/auth-with-password",
            {},
            {"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
        ),
        (
            "POST",
            "/api/collections/_superusers/auth-with-password",
            {},
            {"identity": DEFAULT_EMAIL, "password": "wrong-password"},
        ),
        (
            "POST",
            "/api/collections/_superusers/auth-with-password",
            {"X-Real-Ip": "10.0.0.1"},
            {"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
        ),
    ]
    answers = []
    for method, path, headers, body in requests:
        resp = httpx.request(method, f"{url}{path}", headers=headers, json=body)
        data = resp.json()
        if resp.status_code == 200 and isinstance(data, dict):
            data = sorted(data)  # keys only: tokens and ids differ
        answers.append((resp.status_code, data))
    # let the superuser back in from here (a trusted header), so nothing else is locked out
    resp = httpx.patch(
        f"{url}/api/settings", headers={**su, "X-Real-Ip": "10.0.0.1"}, json={"superuserIPs": []}
    )
    assert resp.status_code == 200, resp.text
    return answers


def test_superuser_ips_match_pocketbase(tmp_path: Path) -> None:
    answers = {}
    for target in TARGETS:
        with start_target(target, tmp_path / target) as proc:
            answers[target] = _superuser_ips_answers(proc.url)
    assert answers["core"] == answers["pocketbase"]
    assert [status for status, _ in answers["core"]] == [
        403,
        403,
        403,
        403,
        200,
        403,
        200,
        403,
        403,
        400,
        200,
    ]

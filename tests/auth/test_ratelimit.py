"""Rate limits: the rule matcher and windows on their own, then the middleware through the API."""

from __future__ import annotations

from typing import Any

import pytest

from core.app import App
from core.auth.ratelimit import Cooldowns, FixedWindow, RateLimiters, Rule, find_rule, ip_excluded
from tests import fixture_data

DEFAULTS = [
    Rule("*:auth", "", 3, 2),
    Rule("*:create", "", 5, 20),
    Rule("/api/batch", "", 1, 3),
    Rule("/api/", "", 10, 300),
]


@pytest.mark.parametrize(
    ("labels", "audiences", "expected"),
    [
        (["users:auth", "*:auth", "POST /api/collections/users/auth-with-password", "/api/x"], (), "*:auth"),
        (["posts:create", "*:create", "POST /api/collections/posts/records"], (), "*:create"),
        (["GET /api/batch", "/api/batch"], (), "/api/batch"),
        (["GET /api/health", "/api/health"], (), "/api/"),
        (["GET /other", "/other"], (), None),
        (["users:auth", "*:auth"], ("", "@guest"), "*:auth"),
    ],
)
def test_find_rule(labels: list[str], audiences: tuple[str, ...], expected: str | None) -> None:
    rule = find_rule(DEFAULTS, labels, audiences)
    assert (rule.label if rule else None) == expected


def test_specific_label_and_audience_win() -> None:
    rules = [Rule("*:auth", "", 3, 2), Rule("users:auth", "@guest", 3, 1), Rule("POST /api/", "@auth", 1, 1)]
    labels = ["users:auth", "*:auth", "POST /api/collections/users/auth-with-password"]
    assert find_rule(rules, labels, ("", "@guest")) == rules[1]
    assert find_rule(rules, labels, ("", "@auth")) == rules[0]
    assert find_rule(rules, ["POST /api/x", "/api/x"], ("", "@auth")) == rules[2]


def test_fixed_window() -> None:
    window = FixedWindow(2, 10)
    assert [window.consume(t) for t in (0.0, 1.0, 2.0)] == [True, True, False]
    assert window.consume(10.5) is False  # 10 s after the last ALLOWED request, not the first
    assert window.consume(11.0) is True


def test_limiters_and_cooldowns_with_a_clock() -> None:
    now = [100.0]
    limiters = RateLimiters(clock=lambda: now[0])
    assert limiters.allow("x", "1.2.3.4", 1, 5) and not limiters.allow("x", "1.2.3.4", 1, 5)
    assert limiters.allow("x", "5.6.7.8", 1, 5)  # per client
    assert limiters.allow("x", "1.2.3.4", 2, 5)  # edited rule numbers: fresh counters
    now[0] += 6
    assert limiters.allow("x", "1.2.3.4", 1, 5)
    cooldowns = Cooldowns(clock=lambda: now[0])
    cooldowns.start("k", 120)
    assert cooldowns.active("k")
    now[0] += 121
    assert not cooldowns.active("k")


def test_ip_excluded() -> None:
    assert ip_excluded("10.1.2.3", ["10.0.0.0/8"])
    assert ip_excluded("127.0.0.1", ["127.0.0.1"])
    assert not ip_excluded("127.0.0.2", ["127.0.0.1", "bad"])
    assert not ip_excluded("testclient", ["127.0.0.1"])


U = "/api/collections/users"
WRONG = {"identity": fixture_data.USER1[0], "password": "wrong-password"}


async def _statuses(client: Any, n: int, **kwargs: Any) -> list[int]:
    return [
        (await client.post(U + "/auth-with-password", json=WRONG, **kwargs)).status_code for _ in range(n)
    ]


async def test_off_by_default(client: Any) -> None:
    assert await _statuses(client, 4) == [400, 400, 400, 400]


async def test_default_rules_limit_auth(client: Any, app: App) -> None:
    await app.store.update_settings({"rateLimits": {"enabled": True}})
    assert await _statuses(client, 4) == [400, 400, 429, 429]
    resp = await client.post(U + "/auth-with-password", json=WRONG)
    assert resp.json() == {"data": {}, "message": "Too Many Requests.", "status": 429}
    # another route has its own counter
    assert (await client.get(U + "/auth-methods")).status_code == 200


async def test_superusers_and_excluded_ips_are_not_limited(
    client: Any, app: App, tokens: dict[str, str]
) -> None:
    await app.store.update_settings({"rateLimits": {"enabled": True}})
    su = {"Authorization": tokens["superuser"]}
    assert await _statuses(client, 4, headers=su) == [400, 400, 400, 400]
    # the test client connects as "testclient": exclude it through a trusted proxy header
    await app.store.update_settings(
        {"rateLimits": {"excludedIPs": ["10.9.0.0/16"]}, "trustedProxy": {"headers": ["X-Real-IP"]}}
    )
    proxied = {"X-Real-IP": "10.9.8.7"}
    assert await _statuses(client, 4, headers=proxied) == [400, 400, 400, 400]
    other = {"X-Real-IP": "10.10.0.1"}
    assert await _statuses(client, 3, headers=other) == [400, 400, 429]


async def test_collection_and_audience_rules(client: Any, app: App, tokens: dict[str, str]) -> None:
    rules = [
        {"label": "users:listAuthMethods", "audience": "@guest", "duration": 60, "maxRequests": 1},
        {"label": "*:list", "audience": "@auth", "duration": 60, "maxRequests": 1},
        {"label": "/api/", "audience": "", "duration": 60, "maxRequests": 100},
    ]
    await app.store.update_settings({"rateLimits": {"enabled": True, "rules": rules}})
    assert [(await client.get(U + "/auth-methods")).status_code for _ in range(2)] == [200, 429]
    user = {"Authorization": tokens["user1"]}
    assert [(await client.get(U + "/auth-methods", headers=user)).status_code for _ in range(2)] == [200, 200]
    lists = [(await client.get("/api/collections/posts/records", headers=user)).status_code for _ in range(2)]
    assert lists == [200, 429]
    assert (await client.get("/api/collections/posts/records")).status_code == 200  # guests: another rule

from __future__ import annotations

import pytest

from tests.scenario import Scenario, run_scenario

SCENARIOS = [
    Scenario(
        "guest",
        "GET",
        "/api/health",
        200,
        contains=['"code":200', '"message":"API is healthy."', '"data":{}'],
    ),
    Scenario("user sees no extra data", "GET", "/api/health", 200, auth="user1", contains=['"data":{}']),
    Scenario(
        "superuser sees canBackup", "GET", "/api/health", 200, auth="superuser", contains=['"canBackup":true']
    ),
    Scenario("unknown api route", "GET", "/api/nope", 404, contains=['"message":"File not found."']),
]


@pytest.mark.parametrize("s", SCENARIOS, ids=str)
async def test_health(client, app, tokens, s: Scenario) -> None:
    await run_scenario(client, app, tokens, s)

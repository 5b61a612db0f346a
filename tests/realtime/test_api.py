"""POST /api/realtime in process: the answers the reference binary gives (probed on 0.40.6)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.app import App
from core.realtime import Broker
from tests.scenario import Scenario, run_scenario

TEST_CLIENT_IP = "testclient"  # what Litestar's test transport reports as the peer
P = "/api/realtime"


def broker_of(app: App) -> Broker:
    broker: Broker = app.services["realtime"]
    return broker


def topics_of(app: App, client_id: str) -> list[str]:
    client = broker_of(app).get(client_id)
    assert client is not None
    return sorted(client.subscriptions)


def with_client(app: App, ip: str = TEST_CLIENT_IP) -> str:
    return broker_of(app).connect(ip).id


CID = "{cid}"  # replaced by a fresh client id in each scenario body


SCENARIOS = [
    Scenario(
        "blank client id",
        "POST",
        P,
        400,
        body={"clientId": "", "subscriptions": []},
        contains=['"clientId":{"code":"validation_required","message":"Cannot be blank."}'],
    ),
    Scenario("no body", "POST", P, 400, contains=['"clientId":{"code":"validation_required"']),
    Scenario("not JSON", "POST", P, 400, body=b"garbage", contains=['"data":{}']),
    Scenario(
        "subscriptions not a list",
        "POST",
        P,
        400,
        body={"clientId": CID, "subscriptions": 5},
        contains=['"message":"Something went wrong while processing your request."'],
    ),
    Scenario(
        "unknown client",
        "POST",
        P,
        404,
        body={"clientId": "missing", "subscriptions": []},
        contains=['"message":"Missing or invalid client id."'],
    ),
    Scenario(
        "too many topics",
        "POST",
        P,
        400,
        body={"clientId": CID, "subscriptions": ["a"] * 1001},
        contains=['"subscriptions":{"code":"validation_length_too_long"'],
    ),
    Scenario(
        "topic too long",
        "POST",
        P,
        400,
        body={"clientId": CID, "subscriptions": ["a", "b" * 2501]},
        contains=['"subscriptions":{"1":{"code":"validation_length_too_long"'],
    ),
    Scenario(
        "guest subscribes",
        "POST",
        P,
        204,
        body={"clientId": CID, "subscriptions": ["posts/*", "", "users/abc"]},
    ),
    Scenario(
        "user subscribes", "POST", P, 204, body={"clientId": CID, "subscriptions": ["posts/*"]}, auth="user1"
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_set_subscriptions(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str], scenario: Scenario
) -> None:
    if isinstance(scenario.body, dict) and scenario.body.get("clientId") == CID:
        scenario.body = {**scenario.body, "clientId": with_client(app)}
    await run_scenario(client, app, tokens, scenario)


async def test_subscriptions_are_replaced(client: AsyncTestClient[Any], app: App) -> None:
    cid = with_client(app)
    resp = await client.post(P, json={"clientId": cid, "subscriptions": ["posts/*", "", "users/x"]})
    assert resp.status_code == 204 and resp.content == b""
    assert topics_of(app, cid) == ["posts/*", "users/x"]
    resp = await client.post(P, json={"clientId": cid, "subscriptions": ["comments/*"]})
    assert topics_of(app, cid) == ["comments/*"]
    resp = await client.post(P, json={"clientId": cid, "subscriptions": []})
    assert resp.status_code == 204 and topics_of(app, cid) == []


async def test_auth_may_only_be_upgraded(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str]
) -> None:
    cid = with_client(app)
    body = {"clientId": cid, "subscriptions": ["posts/*"]}
    assert (await client.post(P, json=body)).status_code == 204  # guest
    assert (await client.post(P, json=body, headers={"Authorization": tokens["user1"]})).status_code == 204
    stored = broker_of(app).get(cid)
    assert stored is not None and stored.auth is not None and stored.auth.id == "user1aaaaaaaaaa"
    assert (await client.post(P, json=body, headers={"Authorization": tokens["user1"]})).status_code == 204
    for other in ({"Authorization": tokens["user2"]}, {"Authorization": tokens["superuser"]}, {}):
        resp = await client.post(P, json=body, headers=other)
        assert resp.status_code == 403
        assert resp.json() == {
            "data": {},
            "message": "The current and the previous request authorization don't match.",
            "status": 403,
        }


async def test_another_ip_may_not_steer_a_client(client: AsyncTestClient[Any], app: App) -> None:
    cid = with_client(app, ip="10.1.2.3")
    resp = await client.post(P, json={"clientId": cid, "subscriptions": []})
    assert resp.status_code == 400
    assert resp.json()["message"] == "Invalid realtime client."


async def test_form_body(client: AsyncTestClient[Any], app: App) -> None:
    cid = with_client(app)
    resp = await client.post(P, data={"clientId": cid, "subscriptions": "posts/*"})
    assert resp.status_code == 204
    assert topics_of(app, cid) == ["posts/*"]

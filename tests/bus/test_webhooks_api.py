"""The `webhooks` setting and GET /api/webhooks/deliveries, in process (no NATS)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.bus import settings as bus_settings
from tests.scenario import Scenario, run_scenario

SECRET = "0123456789abcdef-secret"
GOOD = {"url": "http://127.0.0.1:9/hook", "collections": ["posts"], "secret": SECRET}


@pytest.fixture(autouse=True)
def events_on(app: Any) -> None:
    """As `core serve --events`: webhooks are refused while record events are off."""
    app.services[bus_settings.SERVICE] = bus_settings.EventsSettings(enabled=True)


async def test_webhooks_are_refused_while_events_are_off(
    app: Any, client: Any, tokens: dict[str, str]
) -> None:
    app.services[bus_settings.SERVICE] = bus_settings.EventsSettings(enabled=False)
    resp = await client.patch("/api/settings", json=_hook(), headers={"Authorization": tokens["superuser"]})
    assert resp.status_code == 400
    assert resp.json()["data"]["webhooks"]["code"] == "validation_events_off"
    assert _stored(app) == []
    emptied = await client.patch(
        "/api/settings", json={"webhooks": []}, headers={"Authorization": tokens["superuser"]}
    )
    assert emptied.status_code == 200  # turning them off is always allowed


def _hook(**changes: Any) -> dict[str, Any]:
    return {"webhooks": [{**GOOD, **changes}]}


def _stored(app: Any) -> list[dict[str, Any]]:
    return list(app.store.settings.get()["webhooks"])


def _nothing_saved(app: Any, _resp: Any) -> None:
    assert _stored(app) == []


SCENARIOS = [
    Scenario("guest cannot set webhooks", "PATCH", "/api/settings", 401, body=_hook(), after=_nothing_saved),
    Scenario("user cannot set webhooks", "PATCH", "/api/settings", 403, body=_hook(), auth="user1"),
    Scenario(
        "a valid hook is saved, its secret never shown",
        "PATCH",
        "/api/settings",
        200,
        body=_hook(actions=["create"], filter="title != ''", maxAttempts=3, backoff=2),
        auth="superuser",
        contains=[
            '"url":"http://127.0.0.1:9/hook"',
            '"collections":["posts"]',
            '"maxAttempts":3',
            '"created":"',
        ],
        not_contains=[SECRET, '"secret"'],
        after=lambda app, _r: _check_saved(app),
    ),
    Scenario(
        "no webhooks: the settings read as PocketBase's",
        "GET",
        "/api/settings",
        200,
        auth="superuser",
        not_contains=['"webhooks"'],
    ),
    Scenario(
        "every bad field is named",
        "PATCH",
        "/api/settings",
        400,
        body=_hook(
            url="ftp://x",
            collections=["po sts"],
            actions=["upsert"],
            filter="title ==",
            secret="short",
            maxAttempts=-1,
        ),
        auth="superuser",
        contains=[
            '"message":"An error occurred while saving the new settings."',
            '"url":{"code":"validation_is_url"',
            '"collections":{"0":{"code":"validation_in_invalid"',
            '"actions":{"0":{"code":"validation_in_invalid"',
            '"filter":{"code":"validation_invalid_filter"',
            '"secret":{"code":"validation_length_too_short"',
            '"maxAttempts":{"code":"validation_min_greater_equal_than_required"',
        ],
        after=_nothing_saved,
    ),
    Scenario(
        "url, collections and secret are required",
        "PATCH",
        "/api/settings",
        400,
        body={"webhooks": [{}]},
        auth="superuser",
        contains=[
            '"url":{"code":"validation_required"',
            '"collections":{"code":"validation_required"',
            '"secret":{"code":"validation_required"',
        ],
    ),
    Scenario(
        "a hook of the wrong type fails to bind",
        "PATCH",
        "/api/settings",
        400,
        body={"webhooks": [{"url": 5}]},
        auth="superuser",
        contains=['"message":"An error occurred while loading the submitted data."'],
    ),
    Scenario(
        "two hooks with one id",
        "PATCH",
        "/api/settings",
        400,
        body={"webhooks": [{**GOOD, "id": "same"}, {**GOOD, "id": "same"}]},
        auth="superuser",
        contains=['"1":{"id":{"code":"validation_duplicated_id"'],
    ),
    Scenario("guest cannot list deliveries", "GET", "/api/webhooks/deliveries", 401),
    Scenario("user cannot list deliveries", "GET", "/api/webhooks/deliveries", 403, auth="user1"),
    Scenario(
        "superuser lists deliveries (none without NATS)",
        "GET",
        "/api/webhooks/deliveries?perPage=5",
        200,
        auth="superuser",
        contains=['"page":1', '"perPage":5', '"totalItems":0', '"items":[]'],
    ),
    Scenario("a bad page is a 400", "GET", "/api/webhooks/deliveries?page=x", 400, auth="superuser"),
]


def _check_saved(app: Any) -> None:
    (hook,) = _stored(app)
    assert hook["secret"] == SECRET and len(hook["id"]) == 15 and hook["created"]


@pytest.mark.parametrize("s", SCENARIOS, ids=str)
async def test_webhooks_api(client, app, tokens, s: Scenario) -> None:
    await run_scenario(client, app, tokens, s)


async def test_a_hook_sent_back_without_its_secret_keeps_it(client, app, tokens) -> None:
    headers = {"Authorization": tokens["superuser"]}
    first = await client.patch("/api/settings", json=_hook(), headers=headers)
    assert first.status_code == 200
    shown = json.loads(first.content)["webhooks"]
    created = _stored(app)[0]["created"]
    # what a dashboard does: GET, change a field, PATCH the list back
    shown[0]["url"] = "http://127.0.0.1:9/other"
    shown[0]["created"] = "2000-01-01 00:00:00.000Z"  # not the client's to set
    again = await client.patch("/api/settings", json={"webhooks": shown}, headers=headers)
    assert again.status_code == 200, again.text
    (hook,) = _stored(app)
    assert hook["secret"] == SECRET and hook["url"].endswith("/other") and hook["created"] == created
    # a new secret replaces it
    shown[0]["secret"] = "another-secret-0123456789"
    await client.patch("/api/settings", json={"webhooks": shown}, headers=headers)
    assert _stored(app)[0]["secret"] == "another-secret-0123456789"

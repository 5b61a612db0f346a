"""/api/oauth2-redirect forwards the provider's code to the realtime client subscribed to `@oauth2`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from core.app import App
from tests.realtime.sse import Recorder

SUCCESS = "../_/#/auth/oauth2-redirect-success"
FAILURE = "../_/#/auth/oauth2-redirect-failure"


async def _subscribed(app: App, topics: list[str]) -> Recorder:
    broker = app.services["realtime"]
    client = broker.connect("127.0.0.1")
    broker.subscribe(client, topics, None)
    return Recorder(client)


async def _frames(recorder: Recorder, event: str, tries: int = 200) -> list[dict[str, Any]]:
    for _ in range(tries):
        found = [json.loads(f.data) for f in recorder.frames if f.event == event]
        if found:
            return found
        await asyncio.sleep(0.01)
    return []


@pytest.mark.parametrize(
    ("query", "location"),
    [
        ("", FAILURE),
        ("?code=abc", FAILURE),
        ("?code=abc&state=nobody", FAILURE),
    ],
)
async def test_failures(client: Any, query: str, location: str) -> None:
    resp = await client.get("/api/oauth2-redirect" + query, follow_redirects=False)
    assert resp.status_code == 307 and resp.headers["location"] == location


async def test_get_forwards_to_the_subscriber(client: Any, app: App) -> None:
    recorder = await _subscribed(app, ["@oauth2"])
    resp = await client.get(
        "/api/oauth2-redirect",
        params={"code": "the-code", "state": recorder.client.id},
        follow_redirects=False,
    )
    assert resp.status_code == 307 and resp.headers["location"] == SUCCESS
    assert await _frames(recorder, "@oauth2") == [{"state": recorder.client.id, "code": "the-code"}]


async def test_post_form_and_provider_error(client: Any, app: App) -> None:
    recorder = await _subscribed(app, ["@oauth2"])
    resp = await client.post(
        "/api/oauth2-redirect",
        data={"state": recorder.client.id, "error": "access_denied"},
        follow_redirects=False,
    )
    # Apple's form_post: 303; the error still reaches the client so its popup can fail fast
    assert resp.status_code == 303 and resp.headers["location"] == FAILURE
    assert await _frames(recorder, "@oauth2") == [
        {"state": recorder.client.id, "code": "", "error": "access_denied"}
    ]


async def test_client_not_subscribed_to_oauth2(client: Any, app: App) -> None:
    recorder = await _subscribed(app, ["posts/*"])
    resp = await client.get(
        "/api/oauth2-redirect", params={"code": "c", "state": recorder.client.id}, follow_redirects=False
    )
    assert resp.headers["location"] == FAILURE
    assert await _frames(recorder, "@oauth2", tries=10) == []

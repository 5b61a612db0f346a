"""/api/nats/token and /api/nats/permissions as API scenarios (in process; the JWTs are checked
here, the server accepting them in tests/js/test_nats_ws.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from core.app import App
from core.nats import jwt, nkey
from core.nats.auth import create_bundle
from core.nats.service import NatsService
from core.nats.settings import NatsSettings
from core.store.record_view import fetch_dicts
from tests import fixture_data
from tests.scenario import Scenario, run_scenario

PERMS = {"publish": ["app.users.{{id}}.>"], "subscribe": ["app.users.{{id}}.>", "app.public.>"]}


@pytest.fixture(autouse=True)
def nats_bundle(app: App, tmp_path: Path) -> Any:
    """The NATS side of `core serve` as far as issuing goes: a real operator bundle (no server)."""
    service = NatsService(NatsSettings(token_ttl=600), tmp_path, {})
    service.bundle = create_bundle()
    app.services["nats"] = service
    return service.bundle


def _stored(app: App) -> dict[str, Any]:
    row = app.store.db.read_sync(
        lambda conn: conn.execute("SELECT value FROM _params WHERE id='coreNatsUsers'").fetchone()
    )
    return json.loads(row[0]) if row else {}


def _users_enabled(app: App, _resp: Any) -> None:
    assert _stored(app) == {"users": PERMS}


def _nothing_stored(app: App, _resp: Any) -> None:
    assert _stored(app) == {}


SCENARIOS = [
    Scenario("token: guest", "POST", "/api/nats/token", 401, contains=['"status":401']),
    Scenario(
        "token: collection not enabled",
        "POST",
        "/api/nats/token",
        403,
        auth="user1",
        contains=['"message":"NATS access is not enabled for this collection."'],
    ),
    Scenario("permissions: guest", "GET", "/api/nats/permissions", 401),
    Scenario("permissions: user", "PUT", "/api/nats/permissions/users", 403, auth="user1", body=PERMS),
    Scenario(
        "permissions: empty list", "GET", "/api/nats/permissions", 200, auth="superuser", contains=["{}"]
    ),
    Scenario(
        "permissions: set",
        "PUT",
        "/api/nats/permissions/users",
        200,
        auth="superuser",
        body=PERMS,
        contains=['"publish":["app.users.{{id}}.>"]'],
        after=_users_enabled,
    ),
    Scenario(
        "permissions: no such collection",
        "PUT",
        "/api/nats/permissions/nope",
        404,
        auth="superuser",
        body=PERMS,
        after=_nothing_stored,
    ),
    Scenario(
        "permissions: base collection",
        "PUT",
        "/api/nats/permissions/posts",
        400,
        auth="superuser",
        body=PERMS,
        contains=["auth collections only"],
        after=_nothing_stored,
    ),
    Scenario(
        "permissions: core subjects refused",
        "PUT",
        "/api/nats/permissions/users",
        400,
        auth="superuser",
        body={"publish": [], "subscribe": ["core.>"]},
        contains=['"subscribe":{"code":"validation_invalid_subject"', "reserved"],
        after=_nothing_stored,
    ),
    Scenario(
        "permissions: a wildcard up front refused",
        "PUT",
        "/api/nats/permissions/users",
        400,
        auth="superuser",
        body={"publish": ["*.{{id}}"]},
        contains=['"publish":{"code":"validation_invalid_subject"', "first token"],
        after=_nothing_stored,
    ),
    Scenario(
        "permissions: not an object",
        "PUT",
        "/api/nats/permissions/users",
        400,
        auth="superuser",
        body=b"[1]",
        after=_nothing_stored,
    ),
]


@pytest.mark.parametrize("s", SCENARIOS, ids=str)
async def test_nats_api(client, app, tokens, s: Scenario) -> None:
    await run_scenario(client, app, tokens, s)


async def _enable_users(client: Any, tokens: dict[str, str]) -> None:
    resp = await client.put(
        "/api/nats/permissions/users", json=PERMS, headers={"Authorization": tokens["superuser"]}
    )
    assert resp.status_code == 200, resp.text


async def test_token_carries_the_record_permissions(client, app, tokens, nats_bundle) -> None:
    await _enable_users(client, tokens)
    before = int(time.time())
    resp = await client.post("/api/nats/token", headers={"Authorization": tokens["user1"]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    claims = jwt.decode(body["jwt"], kind="user")
    assert claims["iss"] == nats_bundle.account("app").public_key
    assert claims["sub"] == nkey.public_key(body["seed"])
    uid = fixture_data.USER1_ID
    assert claims["nats"]["pub"]["allow"] == [f"app.users.{uid}.>"]
    assert claims["nats"]["sub"]["allow"] == [f"app.users.{uid}.>", "app.public.>"]
    assert "core.>" in claims["nats"]["sub"]["deny"] and "pb.>" in claims["nats"]["pub"]["deny"]
    # the flag's 600 s, as the auth token lives longer
    assert before + 600 <= claims["exp"] == body["expires"] <= int(time.time()) + 600


async def test_token_never_outlives_the_auth_token(client, app, tokens) -> None:
    await _enable_users(client, tokens)
    users = app.store.find("users")
    record = app.store.db.read_sync(
        lambda conn: fetch_dicts(conn, "SELECT * FROM users WHERE id = ?", (fixture_data.USER1_ID,))[0]
    )
    short = app.auth.issue(users, record, duration=30)
    resp = await client.post("/api/nats/token", headers={"Authorization": short})
    assert resp.status_code == 200, resp.text
    assert resp.json()["expires"] <= int(time.time()) + 30


async def test_revoked_token_key_refuses_new_issuance(client, app, tokens) -> None:
    await _enable_users(client, tokens)
    headers = {"Authorization": tokens["user1"]}
    assert (await client.post("/api/nats/token", headers=headers)).status_code == 200
    # a password change rotates tokenKey: every token issued before it is revoked
    resp = await client.patch(
        f"/api/collections/users/records/{fixture_data.USER1_ID}",
        json={
            "oldPassword": fixture_data.USER1[1],
            "password": "new-password-123",
            "passwordConfirm": "new-password-123",
        },
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    resp = await client.post("/api/nats/token", headers=headers)
    assert resp.status_code == 401, resp.text


async def test_without_nats_no_token(client, app, tokens) -> None:
    await _enable_users(client, tokens)
    app.services.pop("nats")
    resp = await client.post("/api/nats/token", headers={"Authorization": tokens["user1"]})
    assert resp.status_code == 400
    assert resp.json()["message"] == "NATS credentials are not available on this server."


async def test_view_and_delete_permissions(client, app, tokens) -> None:
    su = {"Authorization": tokens["superuser"]}
    assert (await client.get("/api/nats/permissions/users", headers=su)).status_code == 404
    await _enable_users(client, tokens)
    assert (await client.get("/api/nats/permissions/users", headers=su)).json() == PERMS
    assert (await client.get("/api/nats/permissions", headers=su)).json() == {"users": PERMS}
    assert (await client.delete("/api/nats/permissions/users", headers=su)).status_code == 204
    assert _stored(app) == {}
    resp = await client.post("/api/nats/token", headers={"Authorization": tokens["user1"]})
    assert resp.status_code == 403

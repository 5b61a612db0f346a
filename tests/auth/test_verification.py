"""request-verification / confirm-verification, with the mail read from the SMTP server."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from core.app import App
from tests import fixture_data
from tests.auth.conftest import APP_URL, Mailbox
from tests.scenario import Scenario, run_scenario
from tests.servers import free_port

U = "/api/collections/users"
USER2 = fixture_data.USER2[0]  # unverified in the fixture data

SCENARIOS = [
    Scenario(
        "blank email",
        "POST",
        U + "/request-verification",
        400,
        body={},
        contains=['"email":{"code":"validation_required","message":"Cannot be blank."}'],
    ),
    Scenario(
        "malformed email",
        "POST",
        U + "/request-verification",
        400,
        body={"email": "nope"},
        contains=['"email":{"code":"validation_is_email"'],
    ),
    Scenario(
        "email of the wrong type",
        "POST",
        U + "/request-verification",
        400,
        body={"email": 5},
        contains=['"message":"An error occurred while loading the submitted data."'],
    ),
    Scenario("unknown email", "POST", U + "/request-verification", 204, body={"email": "x@example.com"}),
    Scenario(
        "already verified", "POST", U + "/request-verification", 204, body={"email": "user1@example.com"}
    ),
    Scenario(
        "superusers",
        "POST",
        "/api/collections/_superusers/request-verification",
        400,
        body={"email": "admin@example.com"},
        contains=['"message":"All superusers are verified by default."'],
    ),
    Scenario(
        "base collection",
        "POST",
        "/api/collections/posts/request-verification",
        404,
        body={"email": USER2},
        contains=['"message":"Missing or invalid auth collection context."'],
    ),
    Scenario(
        "missing collection",
        "POST",
        "/api/collections/nope/request-verification",
        404,
        body={"email": USER2},
        contains=['"message":"Missing or invalid collection context."'],
    ),
    Scenario(
        "confirm without token",
        "POST",
        U + "/confirm-verification",
        400,
        body={},
        contains=['"token":{"code":"validation_required"'],
    ),
    Scenario(
        "confirm garbage token",
        "POST",
        U + "/confirm-verification",
        400,
        body={"token": "garbage"},
        contains=[
            '"token":{"code":"validation_invalid_token_claims","message":"Missing email token claim."}'
        ],
    ),
    Scenario(
        "confirm with an auth token",
        "POST",
        U + "/confirm-verification",
        400,
        body={"token": "user1"},  # replaced by the real auth token below
        contains=['"token":{"code":"validation_invalid_token_claims"'],
    ),
]


@pytest.mark.parametrize("s", SCENARIOS, ids=str)
async def test_verification_scenarios(
    auth_client: Any, app: App, tokens: dict[str, str], s: Scenario
) -> None:
    if s.body == {"token": "user1"}:
        s.body = {"token": tokens["user1"]}
    await run_scenario(auth_client, app, tokens, s)


async def test_verification_end_to_end(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    resp = await auth_client.post(U + "/request-verification", json={"email": USER2})
    assert resp.status_code == 204
    mail = await mailbox.next()
    assert mail.subject == "Verify your Acme email"
    assert mail.sender == "support@example.com" and mail.recipients == [USER2]
    assert mail.message["From"] == "Support <support@example.com>"
    assert f"[Verify]({APP_URL}/_/#/auth/confirm-verification/" in mail.text
    assert 'class="btn"' in mail.html
    token = mail.token("confirm-verification")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["type"] == "verification" and claims["email"] == USER2
    assert claims["id"] == fixture_data.USER2_ID and claims["exp"] - time.time() > 86400 - 60

    # a second request within the guard window sends nothing
    assert (await auth_client.post(U + "/request-verification", json={"email": USER2})).status_code == 204
    await mailbox.quiet()

    assert (await auth_client.post(U + "/confirm-verification", json={"token": token})).status_code == 204
    users = app.store.find("users")
    assert users is not None
    raw = await app.store.load_raw(users, fixture_data.USER2_ID)
    assert raw is not None and raw["verified"]
    # still a valid token: confirming again is idempotent
    assert (await auth_client.post(U + "/confirm-verification", json={"token": token})).status_code == 204
    # the password was kept (password auth is on)
    login = {"identity": USER2, "password": fixture_data.USER2[1]}
    assert (await auth_client.post(U + "/auth-with-password", json=login)).status_code == 200


async def test_token_from_before_an_email_change_is_rejected(
    auth_client: Any, app: App, mailbox: Mailbox
) -> None:
    await auth_client.post(U + "/request-verification", json={"email": USER2})
    token = (await mailbox.next()).token("confirm-verification")
    users = app.store.find("users")
    assert users is not None
    await app.store.update_record(
        users, fixture_data.USER2_ID, {"email": "new2@example.com"}, app.auth.system_context()
    )
    resp = await auth_client.post(U + "/confirm-verification", json={"token": token})
    assert resp.status_code == 400
    assert resp.json()["data"]["token"]["code"] == "validation_invalid_token"
    raw = await app.store.load_raw(users, fixture_data.USER2_ID)
    assert raw is not None and not raw["verified"]


async def test_tampered_and_expired_tokens_change_nothing(
    auth_client: Any, app: App, mailbox: Mailbox
) -> None:
    await auth_client.post(U + "/request-verification", json={"email": USER2})
    token = (await mailbox.next()).token("confirm-verification")
    claims = jwt.decode(token, options={"verify_signature": False})
    users = app.store.find("users")
    assert users is not None
    raw = await app.store.load_raw(users, fixture_data.USER2_ID)
    assert raw is not None
    from core.auth.service import token_key

    key = token_key(users, raw, "verification")
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, key, algorithm="HS256")
    forged = jwt.encode({**claims, "exp": int(time.time()) + 999}, "not-the-key-" * 4, algorithm="HS256")
    wrong_type = jwt.encode({**claims, "type": "passwordReset"}, key, algorithm="HS256")
    for bad in (expired, forged, wrong_type, token[:-3] + "AAA"):
        resp = await auth_client.post(U + "/confirm-verification", json={"token": bad})
        assert resp.status_code == 400, bad
    raw = await app.store.load_raw(users, fixture_data.USER2_ID)
    assert raw is not None and not raw["verified"]


async def test_password_dropped_when_password_auth_is_off(
    auth_client: Any, app: App, mailbox: Mailbox
) -> None:
    await app.store.update_collection("users", {"passwordAuth": {"enabled": False}})
    await auth_client.post(U + "/request-verification", json={"email": USER2})
    token = (await mailbox.next()).token("confirm-verification")
    users = app.store.find("users")
    assert users is not None
    before = await app.store.load_raw(users, fixture_data.USER2_ID)
    assert (await auth_client.post(U + "/confirm-verification", json={"token": token})).status_code == 204
    after = await app.store.load_raw(users, fixture_data.USER2_ID)
    assert before is not None and after is not None
    assert after["verified"] and after["password"] != before["password"]


async def test_mail_failure_still_answers_204(
    auth_client: Any, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    await app.store.update_settings({"smtp": {"port": free_port()}})  # nothing listens there
    resp = await auth_client.post(U + "/request-verification", json={"email": USER2})
    assert resp.status_code == 204
    await app.auth.mailer.drain()
    failures = [r for r in caplog.records if r.name == "core.mailer"]
    assert failures and "Failed to send verification email" in failures[0].getMessage()
    assert "eyJ" not in caplog.text  # no token in the logs

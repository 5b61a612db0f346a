"""request-password-reset / confirm-password-reset, completed from the mailed link."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from core.app import App
from tests import fixture_data
from tests.auth.conftest import Mailbox
from tests.scenario import Scenario, run_scenario

U = "/api/collections/users"
USER2, USER2_PASSWORD = fixture_data.USER2

SCENARIOS = [
    Scenario("unknown email", "POST", U + "/request-password-reset", 204, body={"email": "x@example.com"}),
    Scenario(
        "malformed email",
        "POST",
        U + "/request-password-reset",
        400,
        body={"email": "x"},
        contains=['"email":{"code":"validation_is_email"'],
    ),
    Scenario(
        "confirm with nothing",
        "POST",
        U + "/confirm-password-reset",
        400,
        body={},
        contains=[
            '"password":{"code":"validation_required"',
            '"passwordConfirm":{"code":"validation_required"',
            '"token":{"code":"validation_required"',
        ],
    ),
    Scenario(
        "confirm garbage token",
        "POST",
        U + "/confirm-password-reset",
        400,
        body={"token": "garbage", "password": "newpass123", "passwordConfirm": "newpass123"},
        contains=['"token":{"code":"validation_invalid_token","message":"Invalid or expired token."}'],
    ),
    Scenario(
        "confirm with an auth token",
        "POST",
        U + "/confirm-password-reset",
        400,
        body={"token": "user1", "password": "newpass123", "passwordConfirm": "newpass123"},
        contains=['"token":{"code":"validation_invalid_token"'],
    ),
]


@pytest.mark.parametrize("s", SCENARIOS, ids=str)
async def test_password_reset_scenarios(
    auth_client: Any, app: App, tokens: dict[str, str], mailbox: Mailbox, s: Scenario
) -> None:
    if isinstance(s.body, dict) and s.body.get("token") == "user1":
        s.body = {**s.body, "token": tokens["user1"]}
    await run_scenario(auth_client, app, tokens, s)
    await mailbox.quiet(0.1)


async def _reset_token(client: Any, mailbox: Mailbox) -> str:
    assert (await client.post(U + "/request-password-reset", json={"email": USER2})).status_code == 204
    mail = await mailbox.next()
    assert mail.subject == "Reset your Acme password" and mail.recipients == [USER2]
    return mail.token("confirm-password-reset")


async def test_password_reset_end_to_end(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    old_token = (
        await auth_client.post(
            U + "/auth-with-password", json={"identity": USER2, "password": USER2_PASSWORD}
        )
    ).json()["token"]
    token = await _reset_token(auth_client, mailbox)
    assert jwt.decode(token, options={"verify_signature": False})["type"] == "passwordReset"
    # the resend guard: no second mail
    assert (await auth_client.post(U + "/request-password-reset", json={"email": USER2})).status_code == 204
    await mailbox.quiet()

    mismatch = {"token": token, "password": "newpass123", "passwordConfirm": "other123"}
    resp = await auth_client.post(U + "/confirm-password-reset", json=mismatch)
    assert resp.status_code == 400
    assert resp.json()["data"]["passwordConfirm"]["code"] == "validation_values_mismatch"
    short = {"token": token, "password": "short", "passwordConfirm": "short"}
    resp = await auth_client.post(U + "/confirm-password-reset", json=short)
    assert resp.status_code == 400 and resp.json()["data"]["password"]["params"] == {"max": 255, "min": 8}

    good = {"token": token, "password": "newpass123", "passwordConfirm": "newpass123"}
    assert (await auth_client.post(U + "/confirm-password-reset", json=good)).status_code == 204
    # the token cannot be used twice, earlier auth tokens are dead, the record is verified
    assert (await auth_client.post(U + "/confirm-password-reset", json=good)).status_code == 400
    assert (
        await auth_client.post(U + "/auth-refresh", headers={"Authorization": old_token})
    ).status_code == 401
    login = await auth_client.post(
        U + "/auth-with-password", json={"identity": USER2, "password": "newpass123"}
    )
    assert login.status_code == 200 and login.json()["record"]["verified"] is True
    old = await auth_client.post(
        U + "/auth-with-password", json={"identity": USER2, "password": USER2_PASSWORD}
    )
    assert old.status_code == 400


async def test_reset_does_not_verify_a_changed_email(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    token = await _reset_token(auth_client, mailbox)
    users = app.store.find("users")
    assert users is not None
    # an email change rotates tokenKey too, so the reset token dies with it
    await app.store.update_record(
        users, fixture_data.USER2_ID, {"email": "moved@example.com"}, app.auth.system_context()
    )
    good = {"token": token, "password": "newpass123", "passwordConfirm": "newpass123"}
    assert (await auth_client.post(U + "/confirm-password-reset", json=good)).status_code == 400


async def test_reset_needs_password_auth(auth_client: Any, app: App) -> None:
    await app.store.update_collection("users", {"passwordAuth": {"enabled": False}})
    resp = await auth_client.post(U + "/request-password-reset", json={"email": USER2})
    assert resp.status_code == 400
    assert resp.json()["message"] == "The collection is not configured to allow password authentication."


async def test_failed_mail_can_be_retried_at_once(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    from tests.servers import free_port

    await app.store.update_settings({"smtp": {"port": free_port()}})
    assert (await auth_client.post(U + "/request-password-reset", json={"email": USER2})).status_code == 204
    await app.auth.mailer.drain()
    await app.store.update_settings({"smtp": {"port": mailbox.port}})
    await _reset_token(auth_client, mailbox)  # not held back by the resend guard

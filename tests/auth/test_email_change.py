"""request-email-change (synchronous mail to the new address) / confirm-email-change."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from core.app import App
from tests import fixture_data
from tests.auth.conftest import Mailbox
from tests.scenario import Scenario, run_scenario
from tests.servers import free_port

U = "/api/collections/users"
USER1, USER1_PASSWORD = fixture_data.USER1

SCENARIOS = [
    Scenario(
        "guest",
        "POST",
        U + "/request-email-change",
        401,
        body={"newEmail": "new@example.com"},
        contains=['"message":"The request requires valid record authorization token."'],
    ),
    Scenario(
        "auth of another collection",
        "POST",
        U + "/request-email-change",
        403,
        auth="superuser",
        body={"newEmail": "new@example.com"},
        contains=['"message":"The request requires auth record from _superusers collection."'],
    ),
    Scenario(
        "superusers change their email directly",
        "POST",
        "/api/collections/_superusers/request-email-change",
        400,
        auth="superuser",
        body={"newEmail": "new@example.com"},
        contains=['"message":"All superusers can change their emails directly."'],
    ),
    Scenario(
        "same email",
        "POST",
        U + "/request-email-change",
        400,
        auth="user1",
        body={"newEmail": USER1},
        contains=['"newEmail":{"code":"validation_not_in_invalid","message":"Must not be in list."}'],
    ),
    Scenario(
        "taken email",
        "POST",
        U + "/request-email-change",
        400,
        auth="user1",
        body={"newEmail": "USER2@example.com"},
        contains=[
            '"newEmail":{"code":"validation_invalid_new_email","message":"Invalid new email address."}'
        ],
    ),
    Scenario(
        "malformed email",
        "POST",
        U + "/request-email-change",
        400,
        auth="user1",
        body={"newEmail": "nope"},
        contains=['"newEmail":{"code":"validation_is_email"'],
    ),
    Scenario(
        "blank email",
        "POST",
        U + "/request-email-change",
        400,
        auth="user1",
        body={},
        contains=['"newEmail":{"code":"validation_required"'],
    ),
    Scenario(
        "confirm with nothing",
        "POST",
        U + "/confirm-email-change",
        400,
        body={},
        contains=['"password":{"code":"validation_required"', '"token":{"code":"validation_required"'],
    ),
    Scenario(
        "confirm garbage token",
        "POST",
        U + "/confirm-email-change",
        400,
        body={"token": "garbage", "password": USER1_PASSWORD},
        contains=[
            '"token":{"code":"validation_invalid_token_payload"',
            '"password":{"code":"validation_invalid_password"',
        ],
    ),
]


@pytest.mark.parametrize("s", SCENARIOS, ids=str)
async def test_email_change_scenarios(
    auth_client: Any, app: App, tokens: dict[str, str], mailbox: Mailbox, s: Scenario
) -> None:
    await run_scenario(auth_client, app, tokens, s)
    await mailbox.quiet(0.05)  # the mail is synchronous: nothing can still be on its way


async def test_email_change_end_to_end(
    auth_client: Any, app: App, tokens: dict[str, str], mailbox: Mailbox
) -> None:
    headers = {"Authorization": tokens["user1"]}
    resp = await auth_client.post(
        U + "/request-email-change", json={"newEmail": "renamed@example.com"}, headers=headers
    )
    assert resp.status_code == 204
    # synchronous: the mail is already there when the answer comes
    assert mailbox.count() == 1
    mail = await mailbox.next(timeout=0)
    assert mail.subject == "Confirm your Acme new email address"
    assert mail.recipients == ["renamed@example.com"]  # the NEW address only
    token = mail.token("confirm-email-change")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["type"] == "emailChange" and claims["newEmail"] == "renamed@example.com"
    assert claims["email"] == USER1

    wrong = await auth_client.post(
        U + "/confirm-email-change", json={"token": token, "password": "wrong-pass"}
    )
    assert wrong.status_code == 400 and "password" in wrong.json()["data"]
    ok = await auth_client.post(
        U + "/confirm-email-change", json={"token": token, "password": USER1_PASSWORD}
    )
    assert ok.status_code == 204
    # old tokens are dead, the token cannot be reused, the new address logs in and is verified
    assert (await auth_client.post(U + "/auth-refresh", headers=headers)).status_code == 401
    again = await auth_client.post(
        U + "/confirm-email-change", json={"token": token, "password": USER1_PASSWORD}
    )
    assert again.status_code == 400
    login = {"identity": "renamed@example.com", "password": USER1_PASSWORD}
    resp = await auth_client.post(U + "/auth-with-password", json=login)
    assert resp.status_code == 200 and resp.json()["record"]["verified"] is True


async def test_confirm_when_the_address_was_taken_meanwhile(
    auth_client: Any, app: App, tokens: dict[str, str], mailbox: Mailbox
) -> None:
    headers = {"Authorization": tokens["user1"]}
    await auth_client.post(
        U + "/request-email-change", json={"newEmail": "contested@example.com"}, headers=headers
    )
    token = (await mailbox.next()).token("confirm-email-change")
    users = app.store.find("users")
    assert users is not None
    await app.store.update_record(
        users, fixture_data.USER2_ID, {"email": "contested@example.com"}, app.auth.system_context()
    )
    resp = await auth_client.post(
        U + "/confirm-email-change", json={"token": token, "password": USER1_PASSWORD}
    )
    assert resp.status_code == 400
    # PocketBase 0.40.6's words (checked against the binary in test_auth_parity.py)
    assert resp.json()["data"]["token"] == {
        "code": "validation_invalid_token_email",
        "message": "The new email address is invalid.",
    }


async def test_a_forged_token_tells_nothing_about_the_address_it_names(auth_client: Any) -> None:
    """Issue 12 item 6: the token's signature is checked before its `newEmail` is looked up."""

    def forged(new_email: str) -> str:
        claims = {"id": fixture_data.USER1_ID, "collectionId": "_pb_users_auth_", "type": "emailChange"}
        claims.update(email=fixture_data.USER1[0], newEmail=new_email, exp=int(time.time()) + 600)
        return jwt.encode(claims, "a-key-that-is-not-the-records-key-0123", algorithm="HS256")

    answers = []
    for address in (fixture_data.USER2[0], "nobody@example.com"):  # an account, and none
        resp = await auth_client.post(
            U + "/confirm-email-change", json={"token": forged(address), "password": USER1_PASSWORD}
        )
        answers.append((resp.status_code, resp.json()))
    assert answers[0] == answers[1]
    assert answers[0][1]["data"]["token"]["code"] == "validation_invalid_token"


async def test_request_fails_without_a_working_mailer(
    auth_client: Any, app: App, tokens: dict[str, str]
) -> None:
    await app.store.update_settings({"smtp": {"port": free_port()}})
    resp = await auth_client.post(
        U + "/request-email-change",
        json={"newEmail": "x@example.com"},
        headers={"Authorization": tokens["user1"]},
    )
    assert resp.status_code == 400 and resp.json()["message"] == "Failed to request email change."
    await app.store.update_settings({"smtp": {"enabled": False}})
    resp = await auth_client.post(
        U + "/request-email-change",
        json={"newEmail": "x@example.com"},
        headers={"Authorization": tokens["user1"]},
    )
    assert resp.status_code == 400 and resp.json()["message"] == "Failed to request email change."


async def test_a_token_of_another_auth_collection(auth_client: Any, app: App) -> None:
    su = app.store.find("_superusers")
    assert su is not None
    admin = await app.auth.find_by_email(su, fixture_data.SUPERUSER[0])
    assert admin is not None
    token = app.auth.issue(
        su, admin, "emailChange", extra={"email": admin["email"], "newEmail": "fresh@example.com"}
    )
    resp = await auth_client.post(
        U + "/confirm-email-change", json={"token": token, "password": fixture_data.SUPERUSER[1]}
    )
    assert resp.status_code == 400
    assert resp.json()["data"]["token"] == {
        "code": "validation_token_collection_mismatch",
        "message": "The provided token is for different auth collection.",
    }

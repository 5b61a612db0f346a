"""MFA: the first factor answers 401 {mfaId}; a different second factor with the mfaId logs in."""

from __future__ import annotations

from typing import Any

from core.app import App
from core.store.record_view import fetch_dicts
from tests import fixture_data
from tests.auth.conftest import Mailbox, enable

U = "/api/collections/users"
USER1, USER1_PASSWORD = fixture_data.USER1
LOGIN = {"identity": USER1, "password": USER1_PASSWORD}


async def _mfas(app: App) -> list[dict[str, Any]]:
    return await app.store.db.read(lambda conn: fetch_dicts(conn, "SELECT * FROM _mfas"))


async def _otp(client: Any, mailbox: Mailbox) -> tuple[str, str]:
    resp = await client.post(U + "/request-otp", json={"email": USER1})
    return resp.json()["otpId"], (await mailbox.next()).otp()


async def test_password_then_otp(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    await enable(app, "users", otp={"enabled": True}, mfa={"enabled": True})
    first = await auth_client.post(U + "/auth-with-password", json=LOGIN)
    assert first.status_code == 401
    assert list(first.json()) == ["mfaId"]  # exactly PocketBase's body: no token, no error shape
    mfa_id = first.json()["mfaId"]
    (session,) = await _mfas(app)
    assert session["id"] == mfa_id and session["method"] == "password"
    assert session["recordRef"] == fixture_data.USER1_ID

    same = await auth_client.post(U + "/auth-with-password", json={**LOGIN, "mfaId": mfa_id})
    assert (
        same.status_code == 400 and same.json()["message"] == "A different authentication method is required."
    )
    bogus = await auth_client.post(U + "/auth-with-password", json={**LOGIN, "mfaId": "bogus"})
    assert bogus.status_code == 400 and bogus.json()["message"] == "Invalid or expired MFA session."

    otp_id, code = await _otp(auth_client, mailbox)
    # the SDK passes mfaId as a query parameter
    done = await auth_client.post(
        U + "/auth-with-otp", params={"mfaId": mfa_id}, json={"otpId": otp_id, "password": code}
    )
    assert done.status_code == 200 and done.json()["token"]
    assert await _mfas(app) == []

    # the session was single use (and the OTP is consumed even though MFA refuses)
    otp_id, code = await _otp(auth_client, mailbox)
    used = await auth_client.post(
        U + "/auth-with-otp", json={"otpId": otp_id, "password": code, "mfaId": mfa_id}
    )
    assert used.status_code == 400 and used.json()["message"] == "Invalid or expired MFA session."
    again = await auth_client.post(U + "/auth-with-otp", json={"otpId": otp_id, "password": code})
    assert again.status_code == 400


async def test_otp_first_then_password(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    await enable(app, "users", otp={"enabled": True}, mfa={"enabled": True})
    otp_id, code = await _otp(auth_client, mailbox)
    first = await auth_client.post(U + "/auth-with-otp", json={"otpId": otp_id, "password": code})
    assert first.status_code == 401
    done = await auth_client.post(U + "/auth-with-password", json={**LOGIN, "mfaId": first.json()["mfaId"]})
    assert done.status_code == 200


async def test_wrong_password_is_checked_before_the_session(auth_client: Any, app: App) -> None:
    await enable(app, "users", otp={"enabled": True}, mfa={"enabled": True})
    resp = await auth_client.post(
        U + "/auth-with-password", json={**LOGIN, "password": "wrong", "mfaId": "x"}
    )
    assert resp.status_code == 400 and resp.json()["message"] == "Failed to authenticate."


async def test_session_of_another_record(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    await enable(app, "users", otp={"enabled": True}, mfa={"enabled": True})
    other = {"identity": fixture_data.USER2[0], "password": fixture_data.USER2[1]}
    mfa_id = (await auth_client.post(U + "/auth-with-password", json=other)).json()["mfaId"]
    otp_id, code = await _otp(auth_client, mailbox)
    resp = await auth_client.post(
        U + "/auth-with-otp", json={"otpId": otp_id, "password": code, "mfaId": mfa_id}
    )
    assert resp.status_code == 400 and resp.json()["message"] == "Invalid MFA session."


async def test_expired_session(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    await enable(app, "users", otp={"enabled": True}, mfa={"enabled": True, "duration": 60})
    mfa_id = (await auth_client.post(U + "/auth-with-password", json=LOGIN)).json()["mfaId"]

    def age(ctx: Any) -> None:
        ctx.conn.execute("UPDATE _mfas SET created = '2000-01-01 00:00:00.000Z'")

    await app.store.db.write(age)
    otp_id, code = await _otp(auth_client, mailbox)
    resp = await auth_client.post(
        U + "/auth-with-otp", json={"otpId": otp_id, "password": code, "mfaId": mfa_id}
    )
    assert resp.status_code == 400 and resp.json()["message"] == "Invalid or expired MFA session."
    assert await _mfas(app) == []  # the expired session is removed


async def test_mfa_rule_limits_who_needs_a_second_factor(auth_client: Any, app: App) -> None:
    await enable(app, "users", otp={"enabled": True}, mfa={"enabled": True, "rule": "verified = false"})
    assert (
        await auth_client.post(U + "/auth-with-password", json=LOGIN)
    ).status_code == 200  # user1 verified
    other = {"identity": fixture_data.USER2[0], "password": fixture_data.USER2[1]}
    assert (await auth_client.post(U + "/auth-with-password", json=other)).status_code == 401


async def test_password_change_ends_mfa_sessions(auth_client: Any, app: App) -> None:
    await enable(app, "users", otp={"enabled": True}, mfa={"enabled": True})
    await auth_client.post(U + "/auth-with-password", json=LOGIN)
    assert len(await _mfas(app)) == 1
    users = app.store.find("users")
    assert users is not None
    body = {"password": "another-pass", "passwordConfirm": "another-pass"}
    await app.store.update_record(users, fixture_data.USER1_ID, body, app.auth.system_context())
    assert await _mfas(app) == []


async def test_unverified_user_keeps_the_password_through_an_otp_second_factor(
    auth_client: Any, app: App, mailbox: Mailbox
) -> None:
    """Issue 12 item 2: the OTP proves the address (verified) but must not replace the password
    that was the first factor; a new password would also end that MFA session."""
    await enable(app, "users", otp={"enabled": True}, mfa={"enabled": True})
    email, password = fixture_data.USER2  # not verified
    login = {"identity": email, "password": password}
    first = await auth_client.post(U + "/auth-with-password", json=login)
    assert first.status_code == 401
    otp_id = (await auth_client.post(U + "/request-otp", json={"email": email})).json()["otpId"]
    code = (await mailbox.next()).otp()
    await app.auth.mailer.drain()  # `sentTo` is stored once the mail went out
    done = await auth_client.post(
        U + "/auth-with-otp", json={"otpId": otp_id, "password": code, "mfaId": first.json()["mfaId"]}
    )
    assert done.status_code == 200 and done.json()["record"]["verified"] is True
    again = await auth_client.post(U + "/auth-with-password", json=login)
    assert again.status_code == 401 and list(again.json()) == ["mfaId"]

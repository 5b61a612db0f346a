"""request-otp / auth-with-otp: the code is read from the mail and used once."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from core.app import App
from core.store.record_view import fetch_dicts
from tests import fixture_data
from tests.auth.conftest import Mailbox, enable
from tests.scenario import Scenario, run_scenario
from tests.servers import free_port

U = "/api/collections/users"
USER1, USER1_PASSWORD = fixture_data.USER1
USER2, USER2_PASSWORD = fixture_data.USER2

DISABLED = [
    Scenario(
        "request-otp with OTP off",
        "POST",
        U + "/request-otp",
        403,
        body={"email": USER1},
        contains=['"message":"The collection is not configured to allow OTP authentication."'],
    ),
    Scenario(
        "auth-with-otp with OTP off",
        "POST",
        U + "/auth-with-otp",
        403,
        body={"otpId": "x", "password": "12345678"},
    ),
]

ENABLED = [
    Scenario(
        "malformed email",
        "POST",
        U + "/request-otp",
        400,
        body={"email": "x"},
        contains=['"email":{"code":"validation_is_email"'],
    ),
    Scenario(
        "blank fields",
        "POST",
        U + "/auth-with-otp",
        400,
        body={},
        contains=['"otpId":{"code":"validation_required"', '"password":{"code":"validation_required"'],
    ),
    Scenario(
        "unknown otpId",
        "POST",
        U + "/auth-with-otp",
        400,
        body={"otpId": "nope", "password": "12345678"},
        contains=['"message":"Invalid or expired OTP."'],
    ),
]


@pytest.mark.parametrize("s", DISABLED, ids=str)
async def test_otp_disabled(auth_client: Any, app: App, tokens: dict[str, str], s: Scenario) -> None:
    await run_scenario(auth_client, app, tokens, s)


@pytest.mark.parametrize("s", ENABLED, ids=str)
async def test_otp_scenarios(auth_client: Any, app: App, tokens: dict[str, str], s: Scenario) -> None:
    await enable(app, "users", otp={"enabled": True})
    await run_scenario(auth_client, app, tokens, s)


async def _otps(app: App) -> list[dict[str, Any]]:
    return await app.store.db.read(lambda conn: fetch_dicts(conn, "SELECT * FROM _otps ORDER BY created"))


async def _request(client: Any, mailbox: Mailbox, email: str) -> tuple[str, str]:
    resp = await client.post(U + "/request-otp", json={"email": email})
    assert resp.status_code == 200 and list(resp.json()) == ["otpId"]
    mail = await mailbox.next()
    assert mail.subject == "OTP for Acme" and mail.recipients == [email]
    assert "Your one-time password is:" in mail.text
    return resp.json()["otpId"], mail.otp()


async def test_otp_end_to_end(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    await enable(app, "users", otp={"enabled": True})
    otp_id, code = await _request(auth_client, mailbox, USER1)
    assert len(code) == 8
    await app.auth.mailer.drain()
    (stored,) = await _otps(app)
    assert stored["id"] == otp_id and stored["sentTo"] == USER1
    assert stored["password"] and code not in stored["password"]  # only the hash is kept

    wrong = await auth_client.post(U + "/auth-with-otp", json={"otpId": otp_id, "password": "00000000"})
    assert wrong.status_code == 400
    ok = await auth_client.post(U + "/auth-with-otp", json={"otpId": otp_id, "password": code})
    assert ok.status_code == 200 and ok.json()["record"]["id"] == fixture_data.USER1_ID
    assert ok.json()["token"]
    reuse = await auth_client.post(U + "/auth-with-otp", json={"otpId": otp_id, "password": code})
    assert reuse.status_code == 400 and reuse.json()["message"] == "Invalid or expired OTP."
    assert await _otps(app) == []


async def test_unknown_email_gets_a_random_id_and_no_mail(
    auth_client: Any, app: App, mailbox: Mailbox
) -> None:
    await enable(app, "users", otp={"enabled": True})
    resp = await auth_client.post(U + "/request-otp", json={"email": "nobody@example.com"})
    assert resp.status_code == 200 and len(resp.json()["otpId"]) == 15
    await mailbox.quiet()
    assert await _otps(app) == []


async def test_otp_verifies_the_address_and_drops_the_old_password(
    auth_client: Any, app: App, mailbox: Mailbox
) -> None:
    await enable(app, "users", otp={"enabled": True})
    otp_id, code = await _request(auth_client, mailbox, USER2)  # user2 is not verified
    await app.auth.mailer.drain()
    resp = await auth_client.post(U + "/auth-with-otp", json={"otpId": otp_id, "password": code})
    assert resp.status_code == 200 and resp.json()["record"]["verified"] is True
    # PocketBase 0.40: a password set before the address was proven no longer works
    login = await auth_client.post(
        U + "/auth-with-password", json={"identity": USER2, "password": USER2_PASSWORD}
    )
    assert login.status_code == 400


async def test_five_attempts_then_429(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    await enable(app, "users", otp={"enabled": True})
    otp_id, code = await _request(auth_client, mailbox, USER1)
    for _ in range(5):
        resp = await auth_client.post(U + "/auth-with-otp", json={"otpId": otp_id, "password": "00000000"})
        assert resp.status_code == 400
    resp = await auth_client.post(U + "/auth-with-otp", json={"otpId": otp_id, "password": code})
    assert resp.status_code == 429
    assert resp.json() == {
        "data": {},
        "message": "Too many attempts, please try again later with a new OTP.",
        "status": 429,
    }


async def test_expired_otp(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    await enable(app, "users", otp={"enabled": True})
    otp_id, code = await _request(auth_client, mailbox, USER1)

    def age(ctx: Any) -> None:
        ctx.conn.execute("UPDATE _otps SET created = '2000-01-01 00:00:00.000Z' WHERE id = ?", (otp_id,))

    await app.store.db.write(age)
    resp = await auth_client.post(U + "/auth-with-otp", json={"otpId": otp_id, "password": code})
    assert resp.status_code == 400


async def test_otp_of_another_collection(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    await enable(app, "users", otp={"enabled": True})
    await enable(app, "_superusers", otp={"enabled": True})
    otp_id, code = await _request(auth_client, mailbox, USER1)
    resp = await auth_client.post(
        "/api/collections/_superusers/auth-with-otp", json={"otpId": otp_id, "password": code}
    )
    assert resp.status_code == 400


async def test_failed_mail_deletes_the_otp(auth_client: Any, app: App) -> None:
    await enable(app, "users", otp={"enabled": True})
    await app.store.update_settings({"smtp": {"port": free_port()}})
    resp = await auth_client.post(U + "/request-otp", json={"email": USER1})
    assert resp.status_code == 200
    await app.auth.mailer.drain()
    assert await _otps(app) == []


async def test_otp_length_and_custom_template(auth_client: Any, app: App, mailbox: Mailbox) -> None:
    template = {"subject": "Code {OTP} for {RECORD:name}", "body": "<p>{OTP} / {OTP_ID} / {RECORD:email}</p>"}
    await enable(app, "users", otp={"enabled": True, "length": 6, "emailTemplate": template})
    resp = await auth_client.post(U + "/request-otp", json={"email": USER1})
    mail = await mailbox.next()
    code = mail.subject.split()[1]
    assert len(code) == 6 and mail.subject == f"Code {code} for User One"
    assert mail.text == f"{code} / {resp.json()['otpId']} / {USER1}"


async def test_a_new_token_key_voids_the_codes_mailed_before(
    auth_client: Any, app: App, mailbox: Mailbox
) -> None:
    await enable(app, "users", otp={"enabled": True})
    otp_id, code = await _request(auth_client, mailbox, USER1)
    users = app.store.find("users")
    assert users is not None
    await app.store.update_record(
        users,
        fixture_data.USER1_ID,
        {"password": "changed-1234", "passwordConfirm": "changed-1234"},
        app.auth.system_context(),
    )
    assert await _otps(app) == []
    resp = await auth_client.post(U + "/auth-with-otp", json={"otpId": otp_id, "password": code})
    assert resp.status_code == 400


async def test_the_answer_does_not_wait_for_storing_the_code(
    auth_client: Any, app: App, mailbox: Mailbox
) -> None:
    """Issue 12 item 6: request-otp costs the same for a known and an unknown address because
    what only a known one needs (hashing and storing the code, the mail) comes after the answer.
    Checked by holding the single database writer: the answer must come while nothing could be
    stored yet."""
    await enable(app, "users", otp={"enabled": True})
    held, release = threading.Event(), threading.Event()

    def hold(ctx: Any) -> None:
        held.set()
        release.wait(30)  # a safety net only: the test releases it

    writer = threading.Thread(target=app.store.db.write_sync, args=(hold,))
    writer.start()
    try:
        assert held.wait(10)
        resp = await auth_client.post(U + "/request-otp", json={"email": USER1})
        assert resp.status_code == 200
        assert await _otps(app) == [] and mailbox.count() == 0  # answered before any of it
    finally:
        release.set()
        writer.join()
    code = (await mailbox.next()).otp()
    await app.auth.mailer.drain()
    ok = await auth_client.post(U + "/auth-with-otp", json={"otpId": resp.json()["otpId"], "password": code})
    assert ok.status_code == 200


async def test_a_stalled_smtp_server_does_not_delay_the_answer(auth_client: Any, app: App) -> None:
    await enable(app, "users", otp={"enabled": True})
    stalled = StalledSMTP()
    controller = Controller(stalled, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        await app.store.update_settings({"smtp": {"port": controller.port}})
        resp = await auth_client.post(U + "/request-otp", json={"email": USER1})
        assert resp.status_code == 200
        assert stalled.delivered == []  # the server holds the mail: the answer came first
    finally:
        stalled.release.set()
        await app.auth.mailer.drain()
        controller.stop()
    assert stalled.delivered == [[USER1]]


class StalledSMTP:
    """An SMTP server that accepts a message only once `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.delivered: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        self.delivered.append(list(envelope.rcpt_tos))
        return "250 OK"

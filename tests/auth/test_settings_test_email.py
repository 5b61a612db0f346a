"""POST /api/settings/test/email: every template, sent for real to the loopback SMTP server."""

from __future__ import annotations

from typing import Any

import pytest

from core.app import App
from tests.auth.conftest import Mailbox
from tests.scenario import Scenario, run_scenario
from tests.servers import free_port

URL = "/api/settings/test/email"

SCENARIOS = [
    Scenario("guest", "POST", URL, 401, body={"email": "t@example.com", "template": "otp"}),
    Scenario(
        "regular user", "POST", URL, 403, auth="user1", body={"email": "t@example.com", "template": "otp"}
    ),
    Scenario(
        "blank",
        "POST",
        URL,
        400,
        auth="superuser",
        body={},
        contains=[
            '"message":"Failed to send the test email."',
            '"email":{"code":"validation_required"',
            '"template":{"code":"validation_required"',
        ],
    ),
    Scenario(
        "unknown template",
        "POST",
        URL,
        400,
        auth="superuser",
        body={"email": "t@example.com", "template": "bogus"},
        contains=['"template":{"code":"validation_in_invalid","message":"Must be a valid value."}'],
    ),
    Scenario(
        "not an auth collection",
        "POST",
        URL,
        400,
        auth="superuser",
        body={"email": "t@example.com", "template": "otp", "collection": "posts"},
        contains=['"collection":{"code":"validation_invalid_auth_collection"'],
    ),
]


@pytest.mark.parametrize("s", SCENARIOS, ids=str)
async def test_test_email_scenarios(auth_client: Any, app: App, tokens: dict[str, str], s: Scenario) -> None:
    await run_scenario(auth_client, app, tokens, s)


@pytest.mark.parametrize(
    ("template", "subject", "fragment"),
    [
        ("verification", "Verify your Acme email", "/_/#/auth/confirm-verification/"),
        ("password-reset", "Reset your Acme password", "/_/#/auth/confirm-password-reset/"),
        ("email-change", "Confirm your Acme new email address", "/_/#/auth/confirm-email-change/"),
        ("otp", "OTP for Acme", "Your one-time password is: 123456"),
        ("login-alert", "Login from a new location", " - TEST_IP TEST_USER_AGENT"),
    ],
)
async def test_each_template_is_sent(
    auth_client: Any, tokens: dict[str, str], mailbox: Mailbox, template: str, subject: str, fragment: str
) -> None:
    body = {"email": "t@example.com", "template": template, "collection": "users"}
    resp = await auth_client.post(URL, json=body, headers={"Authorization": tokens["superuser"]})
    assert resp.status_code == 204
    mail = await mailbox.next(timeout=0)  # sent before the answer
    assert mail.subject == subject and mail.recipients == ["t@example.com"]
    assert fragment in mail.text


async def test_defaults_to_superusers_and_reports_smtp_errors(
    auth_client: Any, app: App, tokens: dict[str, str], mailbox: Mailbox
) -> None:
    headers = {"Authorization": tokens["superuser"]}
    resp = await auth_client.post(URL, json={"email": "t@example.com", "template": "otp"}, headers=headers)
    assert resp.status_code == 204 and (await mailbox.next()).subject == "OTP for Acme"
    await app.store.update_settings({"smtp": {"port": free_port()}})
    resp = await auth_client.post(URL, json={"email": "t@example.com", "template": "otp"}, headers=headers)
    assert resp.status_code == 400
    assert resp.json()["message"].startswith("Failed to send the test email. Raw error: \n")

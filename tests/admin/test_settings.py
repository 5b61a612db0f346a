"""The Settings screen: each tab's form against the real settings endpoint (in-process, table
driven), then the screen in Chromium with a test mail to the loopback SMTP server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.app import App
from tests.admin.conftest import AdminServer, shot, submit
from tests.admin.test_session import DS, sign_in


@dataclass
class Case:
    name: str
    tab: str
    form: dict[str, str]
    contains: list[str]
    saved: dict[str, Any] = field(default_factory=dict)  # dotted path -> stored value
    not_contains: list[str] = field(default_factory=list)


CASES = [
    Case(
        "application name and url",
        "application",
        {
            "meta.appName": "Widgets",
            "meta.appURL": "https://widgets.example.com",
            "meta.hideControls": "true",
        },
        ["Settings saved."],
        {"meta.appName": "Widgets", "meta.hideControls": True, "superuserIPs": []},
    ),
    Case(
        "accent color, used by the dashboard",
        "application",
        {"meta.appName": "Acme", "meta.appURL": "https://acme.example.com", "meta.accentColor": "#aa0000"},
        ["Settings saved."],
        {"meta.accentColor": "#aa0000"},
    ),
    Case(
        "not a color",
        "application",
        {
            "meta.appName": "Acme",
            "meta.appURL": "https://acme.example.com",
            "meta.accentColor": "red;}body{x",
        },
        ['id="settings-application-meta-accentColor-error"'],
        {"meta.accentColor": "#1055c9"},
    ),
    Case(
        "a blank name is refused next to its input",
        "application",
        {"meta.appName": "", "meta.appURL": "https://x.example.com"},
        ['id="settings-application-meta-appName-error"', "Cannot be blank.", "The settings were not saved."],
        {"meta.appName": "Acme"},
    ),
    Case(
        "smtp on, the password kept when left empty",
        "mail",
        {
            "smtp.enabled": "true",
            "smtp.host": "127.0.0.1",
            "smtp.port": "2525",
            "smtp.password": "",
            "meta.senderName": "Ops",
            "meta.senderAddress": "ops@example.com",
        },
        ["Settings saved."],
        {"smtp.port": 2525, "smtp.enabled": True, "smtp.tls": False, "meta.senderName": "Ops"},
    ),
    Case(
        "a port that is not a number is PocketBase's to refuse",
        "mail",
        {
            "smtp.enabled": "true",
            "smtp.host": "127.0.0.1",
            "smtp.port": "abc",
            "meta.senderName": "Ops",
            "meta.senderAddress": "ops@example.com",
        },
        ["The settings were not saved."],
        {"smtp.port": 587},
    ),
    Case(
        "logs retention and level",
        "logs",
        {"logs.maxDays": "9", "logs.minLevel": "4", "logs.logIP": "true"},
        ["Settings saved."],
        {"logs.maxDays": 9, "logs.minLevel": 4, "logs.logIP": True, "logs.logAuthId": False},
    ),
    Case(
        "trusted proxy headers, one per line",
        "proxy",
        {
            "trustedProxy.headers": "X-Forwarded-For\n\n Fly-Client-IP \n",
            "trustedProxy.useLeftmostIP": "true",
        },
        ["Settings saved."],
        {"trustedProxy.headers": ["X-Forwarded-For", "Fly-Client-IP"], "trustedProxy.useLeftmostIP": True},
    ),
    Case(
        "batch",
        "batch",
        {"batch.enabled": "true", "batch.maxRequests": "20", "batch.timeout": "5", "batch.maxBodySize": "0"},
        ["Settings saved."],
        {"batch.enabled": True, "batch.maxRequests": 20},
    ),
    Case(
        "rate limit rules table",
        "ratelimits",
        {
            "rateLimits.enabled": "true",
            "rateLimits.excludedIPs": "10.0.0.1",
            "rateLimits.rules.0.label": "*:auth",
            "rateLimits.rules.0.maxRequests": "5",
            "rateLimits.rules.0.duration": "3",
            "rateLimits.rules.0.audience": "@guest",
        },
        ["Settings saved."],
        {
            "rateLimits.enabled": True,
            "rateLimits.excludedIPs": ["10.0.0.1"],
            "rateLimits.rules": [{"label": "*:auth", "audience": "@guest", "duration": 3, "maxRequests": 5}],
        },
    ),
    Case(
        "a rule's error sits in its row",
        "ratelimits",
        {
            "rateLimits.enabled": "true",
            "rateLimits.rules.0.label": "",
            "rateLimits.rules.0.maxRequests": "5",
            "rateLimits.rules.0.duration": "3",
            "rateLimits.rules.0.audience": "",
        },
        ['id="rateLimits-rules-0-label-error"', "The settings were not saved."],
        {"rateLimits.enabled": False},
    ),
    Case(
        "s3 secret is never sent back",
        "storage",
        {"s3.enabled": "", "s3.bucket": "b", "s3.secret": "top-secret-value"},
        ["Settings saved."],
        {"s3.bucket": "b", "s3.secret": "top-secret-value"},
        ["top-secret-value"],
    ),
]


def _full(case: Case) -> dict[str, str]:
    """The case's form as a browser posts it: every text input of the tab is there."""
    from core.admin.settings_spec import BY_KEY

    blanks = {i.path: "" for i in BY_KEY[case.tab].inputs if i.kind not in ("bool", "secret")}
    if case.tab == "logs":
        blanks["logs.minLevel"] = "0"
    return {**blanks, **case.form}


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_settings_tab(client: AsyncTestClient[Any], app: App, case: Case) -> None:
    await sign_in(client)
    resp = await client.post(
        f"/_/api/settings/{case.tab}", data=_full(case), headers={**DS, "Origin": str(client.base_url)}
    )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    for fragment in case.contains:
        assert fragment in resp.text, resp.text[:3000]
    for fragment in case.not_contains:
        assert fragment not in resp.text
    stored = app.store.settings.get()
    for path, value in case.saved.items():
        assert _at(stored, path) == value, path


async def test_the_accent_color_reaches_every_page(client: AsyncTestClient[Any], app: App) -> None:
    await sign_in(client)
    await app.store.update_settings({"meta": {"accentColor": "#aa0000"}})
    assert ":root { --accent: #aa0000; }" in (await client.get("/_/superusers")).text


async def test_settings_pages_render_every_tab(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    assert (await client.get("/_/settings", follow_redirects=False)).headers[
        "location"
    ] == "/_/settings/application"
    for tab in ("application", "mail", "storage", "ratelimits", "proxy", "batch", "logs"):
        page = await client.get(f"/_/settings/{tab}")
        assert page.status_code == 200 and f'id="settings-{tab}"' in page.text, tab
    assert (await client.get("/_/settings/nope")).status_code == 404


async def test_rules_rows_are_added_and_removed_without_saving(
    client: AsyncTestClient[Any], app: App
) -> None:
    await sign_in(client)
    headers = {**DS, "Origin": str(client.base_url)}
    form = {
        "rateLimits.rules.0.label": "/api/",
        "rateLimits.rules.0.maxRequests": "9",
        "rateLimits.rules.0.duration": "1",
    }
    added = await client.post("/_/api/settings/ratelimits/rules?add=1", data=form, headers=headers)
    assert 'id="rule-1"' in added.text and 'value="/api/"' in added.text
    removed = await client.post("/_/api/settings/ratelimits/rules?remove=0", data=form, headers=headers)
    assert 'id="rule-0"' not in removed.text
    assert len(app.store.settings.get()["rateLimits"]["rules"]) == 4  # nothing saved


async def test_test_mail_and_storage_check_answer_with_pocketbases_words(
    client: AsyncTestClient[Any],
) -> None:
    await sign_in(client)
    headers = {**DS, "Origin": str(client.base_url)}
    bad = await client.post(
        "/_/api/settings/mail/test", data={"email": "nope", "template": "verification"}, headers=headers
    )
    assert 'id="mail-test-email-error"' in bad.text and "Must be a valid email address." in bad.text
    unknown = await client.post(
        "/_/api/settings/mail/test", data={"email": "a@example.com", "template": "x"}, headers=headers
    )
    assert 'id="mail-test-template-error"' in unknown.text
    for filesystem in ("storage", "backups"):
        s3 = await client.post(f"/_/api/settings/s3/test?filesystem={filesystem}", headers=headers)
        assert "S3 storage filesystem is not enabled." in s3.text, filesystem
    bad = await client.post("/_/api/settings/s3/test?filesystem=nope", headers=headers)
    assert "Failed to test the S3 filesystem." in bad.text


@pytest.mark.slow
def test_settings_screen(admin_page: Any, admin_server: AdminServer) -> None:
    from playwright.sync_api import expect

    page = admin_page
    api = admin_server.api
    page.click("#nav-settings")
    expect(page.locator("#settings-application")).to_be_visible()
    shot(page, "settings-application")
    page.fill("#settings-application-meta-appName", "Browser app")
    submit(page, "settings-application")
    expect(page.locator("#notice")).to_have_text("Settings saved.")
    assert api.get("/api/settings").json()["meta"]["appName"] == "Browser app"
    page.fill("#settings-application-meta-appName", "")
    page.locator("#settings-application-meta-appName").evaluate("e => e.removeAttribute('required')")
    submit(page, "settings-application")
    expect(page.locator("#settings-application-meta-appName-error")).to_have_text("Cannot be blank.")
    shot(page, "settings-application-error")
    # mail: the loopback SMTP server gets the test mail
    page.click("#tab-mail")
    expect(page.locator("#settings-mail")).to_be_visible()
    shot(page, "settings-mail")
    page.select_option("#mail-test-template", "password-reset")
    page.fill("#mail-test-email", "tester@example.com")
    submit(page, "mail-test")
    expect(page.locator("#notice")).to_have_text("A test email was sent to tester@example.com.")
    assert admin_server.mails_to("tester@example.com", "Reset")
    # rate limits: a row added in the table, saved, seen by the API
    page.click("#tab-ratelimits")
    rows = page.locator("#rules-table tbody tr")
    before = rows.count()
    page.click("#rule-add")
    expect(rows).to_have_count(before + 1)
    page.fill(f"#rateLimits-rules-{before}-label", "users:create")
    page.fill(f"#rateLimits-rules-{before}-maxRequests", "7")
    page.fill(f"#rateLimits-rules-{before}-duration", "60")
    submit(page, "settings-ratelimits")
    expect(page.locator("#notice")).to_have_text("Settings saved.")
    shot(page, "settings-ratelimits")
    rules = api.get("/api/settings").json()["rateLimits"]["rules"]
    assert {"label": "users:create", "audience": "", "duration": 60, "maxRequests": 7} in rules
    for tab in ("storage", "proxy", "batch", "logs"):
        page.click(f"#tab-{tab}")
        expect(page.locator(f"#settings-{tab}")).to_be_visible()
        shot(page, f"settings-{tab}")
    page.click("#tab-logs")
    page.fill("#settings-logs-logs-maxDays", "11")
    submit(page, "settings-logs")
    expect(page.locator("#notice")).to_have_text("Settings saved.")
    assert api.get("/api/settings").json()["logs"]["maxDays"] == 11

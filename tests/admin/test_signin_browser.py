"""Superuser sign-in and the first-run screen, in Chromium against a real `core serve`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.admin.conftest import AdminServer, new_context, shot, sign_in, submit
from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, start_core

pytestmark = pytest.mark.slow


def test_sign_in_and_out(admin_context: tuple[Any, Any], admin_server: AdminServer) -> None:
    from playwright.sync_api import expect

    ctx, problems = admin_context
    page = ctx.new_page()
    page.goto("/_/")
    shot(page, "signin")
    page.fill("#signin-password-identity", DEFAULT_EMAIL)
    page.fill("#signin-password-password", "not-the-password")
    submit(page, "signin-password")
    expect(page.locator("#signin-error")).to_have_text("Failed to authenticate.")
    shot(page, "signin-error")
    sign_in(page)
    expect(page.locator("#me")).to_have_text(DEFAULT_EMAIL)
    shot(page, "home")
    cookie = next(c for c in ctx.cookies() if c["name"] == "pb_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/_/"
    # the cookie is a working superuser token: the JSON API agrees on who it is
    me = httpx.get(
        f"{admin_server.url}/api/collections/_superusers/records", headers={"Authorization": cookie["value"]}
    )
    assert me.status_code == 200 and DEFAULT_EMAIL in me.text
    submit(page, "logout-form")
    expect(page.locator("#signin-password")).to_be_visible()
    assert not [c for c in ctx.cookies() if c["name"] == "pb_admin"]


def test_the_keyboard_alone_signs_in_and_reaches_a_screen(admin_context: tuple[Any, Any]) -> None:
    from playwright.sync_api import expect

    ctx, _ = admin_context
    page = ctx.new_page()
    page.goto("/_/login")
    page.bring_to_front()
    # the identity input has the focus on arrival; Tab to the password, Enter submits
    page.keyboard.type(DEFAULT_EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(DEFAULT_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#nav-settings")).to_be_visible()
    # the skip link is the first stop, then the brand, then the nav
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#nav-collections")).to_be_focused()


def test_sign_in_with_mfa_password_then_mailed_code(
    admin_context: tuple[Any, Any], admin_server: AdminServer
) -> None:
    from playwright.sync_api import expect

    api = admin_server.api
    seen = admin_server.count(DEFAULT_EMAIL, "OTP")
    on = {"mfa": {"enabled": True}, "otp": {"enabled": True}}
    assert api.patch("/api/collections/_superusers", json=on).status_code == 200
    try:
        ctx, _ = admin_context
        page = ctx.new_page()
        page.goto("/_/login")
        page.fill("#signin-password-identity", DEFAULT_EMAIL)
        page.fill("#signin-password-password", DEFAULT_PASSWORD)
        submit(page, "signin-password")
        # PocketBase's MFA step: the password passed, and (the identity being the email) the
        # code is mailed at once, as PocketBase's dashboard does
        expect(page.locator("#signin-otp-code-code")).to_be_visible()
        shot(page, "signin-mfa-code")
        page.fill("#signin-otp-code-code", admin_server.code_after(DEFAULT_EMAIL, seen))
        submit(page, "signin-otp-code")
        expect(page.locator("#nav-settings")).to_be_visible()
    finally:
        off = {"mfa": {"enabled": False}, "otp": {"enabled": False}}
        assert api.patch("/api/collections/_superusers", json=off).status_code == 200


@pytest.fixture
def fresh_server(tmp_path: Any) -> Iterator[Any]:
    # no CORE_POCKETBASE_ADMIN_*: the data dir starts without a superuser
    server = start_core(tmp_path / "data", email="", password="", extra_args=["--no-nats"])
    try:
        yield server
    finally:
        server.stop()


def test_first_run_screen_creates_the_first_superuser(browser: Any, fresh_server: Any) -> None:
    from playwright.sync_api import expect

    link = re.search(r"(http://\S+/_/#/pbinstall/[\w-]+)", fresh_server.log_path.read_text())
    assert link, fresh_server.log_tail()
    ctx, problems = new_context(browser, fresh_server.url)
    try:
        page = ctx.new_page()
        page.goto(link.group(1))
        expect(page).to_have_url(re.compile(r"/_/install$"))  # the token left the address bar
        assert page.locator("#install-token").input_value() == link.group(1).rsplit("/", 1)[1]
        page.fill("#install-form-email", "first@example.com")
        page.fill("#install-form-password", "short")
        page.fill("#install-form-passwordConfirm", "short")
        submit(page, "install-form")
        expect(page.locator("#install-form-password-error")).to_contain_text("at least")
        shot(page, "install-error")
        page.fill("#install-form-password", "first-password-123")
        page.fill("#install-form-passwordConfirm", "first-password-123")
        submit(page, "install-form")
        expect(page.locator("#nav-settings")).to_be_visible()
        # now the screen is gone, and the account works through the JSON API
        page.goto("/_/install")
        expect(page).to_have_url(re.compile(r"/_/login$|/_/$"))
    finally:
        ctx.close()
    assert not problems.items, "\n".join(problems.items)
    login = httpx.post(
        f"{fresh_server.url}/api/collections/_superusers/auth-with-password",
        json={"identity": "first@example.com", "password": "first-password-123"},
    )
    assert login.status_code == 200


def test_sign_in_with_a_code_instead_of_the_password(
    admin_context: tuple[Any, Any], admin_server: AdminServer
) -> None:
    from playwright.sync_api import expect

    api = admin_server.api
    seen = admin_server.count(DEFAULT_EMAIL, "OTP")
    assert api.patch("/api/collections/_superusers", json={"otp": {"enabled": True}}).status_code == 200
    try:
        ctx, _ = admin_context
        page = ctx.new_page()
        page.goto("/_/login")
        page.locator("#signin-otp-switch summary").click()
        page.fill("#signin-otp-switch-email", DEFAULT_EMAIL)
        submit(page, "signin-otp-switch")
        expect(page.locator("#signin-otp-code-code")).to_be_visible()
        code = admin_server.code_after(DEFAULT_EMAIL, seen)
        page.fill("#signin-otp-code-code", "000000" if code != "000000" else "111111")
        submit(page, "signin-otp-code")
        expect(page.locator("#signin-error")).to_contain_text("Invalid or expired OTP")
        page.fill("#signin-otp-code-code", code)
        submit(page, "signin-otp-code")
        expect(page.locator("#nav-settings")).to_be_visible()
    finally:
        assert api.patch("/api/collections/_superusers", json={"otp": {"enabled": False}}).status_code == 200

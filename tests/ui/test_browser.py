"""Every page flow in a real browser: Debian's chromium driven by playwright, against a real
`core serve`, mail caught by a loopback SMTP server, OAuth2 through a loopback provider.

Each test fails on a JavaScript error, a console error or an HTTP error answer. Screenshots of
every page land in tests/artifacts/ui/ (gitignored). No browser is downloaded: playwright drives
/usr/bin/chromium (`apt-get install chromium`); without it the tests fail and say so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import UiServer, create_user

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CORE_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"
TIMEOUT_MS = 8000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # module scope, not session: while playwright's sync API runs, its event loop is the running
    # loop of the main thread, and the async tests of the other modules could not start theirs
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install chromium (or set CORE_TEST_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install playwright (no browser download needed)")
    pw = sync_playwright().start()
    try:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()
    finally:
        pw.stop()


class Problems:
    """JS errors, console errors and HTTP errors seen by a browser context's pages."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def watch(self, page: Any) -> Any:
        page.on("pageerror", lambda e: self.items.append(f"pageerror {page.url}: {e}"))
        page.on(
            "console",
            lambda m: self.items.append(f"console {page.url}: {m.text}") if m.type == "error" else None,
        )
        page.on(
            "response",
            lambda r: (
                self.items.append(f"HTTP {r.status} {r.request.method} {r.url}") if r.status >= 400 else None
            ),
        )
        page.set_default_timeout(TIMEOUT_MS)
        return page


@pytest.fixture
def context(browser: Any, ui_server: UiServer) -> Iterator[tuple[Any, Problems]]:
    ctx = browser.new_context(base_url=ui_server.url, viewport={"width": 1000, "height": 800})
    problems = Problems()
    ctx.on("page", problems.watch)
    try:
        yield ctx, problems
    finally:
        # close the pages first: their event streams end, so the server has nothing to wait for
        ctx.close()
    assert not problems.items, "\n".join(problems.items)


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def submit(page: Any, form: str) -> None:
    # the tab in front: headless chromium throttles animation frames of background tabs, and
    # playwright's click waits for two of them to call the button stable
    page.bring_to_front()
    page.locator(f"#{form} button[type=submit]").click()


def sign_in(page: Any, email: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto("/ds")
    page.fill("#login-form-identity", email)
    page.fill("#login-form-password", password)
    submit(page, "login-form")
    expect(page.locator("#signed-in")).to_be_visible()


def test_account_life_cycle(context: tuple[Any, Problems], ui_server: UiServer) -> None:
    """Sign up, verify from the mail, sign in (a second tab follows over the stream), edit the
    profile, change the password and the email, delete the account; wrong inputs on the way."""
    from playwright.sync_api import expect

    ctx, _ = context
    email, password = "life@example.com", "life-pass-1"
    page = ctx.new_page()

    # sign up: a mismatch first, inline; then the "check your mail" state
    page.goto("/ds/signup")
    page.fill("#signup-form-email", email)
    page.fill("#signup-form-name", "Lif")
    page.fill("#signup-form-password", password)
    page.fill("#signup-form-passwordConfirm", "something-else")
    submit(page, "signup-form")
    expect(page.locator("#signup-form-passwordConfirm-error")).to_have_text("The passwords do not match.")
    expect(page.locator("#signup-form-passwordConfirm")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#signup-form-password")).to_have_value("")  # never echoed back
    shot(page, "signup-error")
    page.fill("#signup-form-password", password)
    page.fill("#signup-form-passwordConfirm", password)
    submit(page, "signup-form")
    expect(page.locator("#signup")).to_contain_text("Check your mail")
    shot(page, "signup-done")

    # verify through the mail's link (PocketBase's /_/#/auth/... form)
    page.goto(ui_server.link(email, "Verify", "confirm-verification"))
    expect(page.locator("#verify")).to_contain_text("Your email is verified")
    assert "token" not in page.url and "#" not in page.url  # the token left the address bar
    shot(page, "verify-email")

    # wrong password: inline error
    page.goto("/ds")
    page.fill("#login-form-identity", email)
    page.fill("#login-form-password", "not-it")
    submit(page, "login-form")
    expect(page.locator("#login-form-error")).to_have_text("Wrong email or password.")
    expect(page.locator("#login-form-identity")).to_have_value(email)
    shot(page, "login-error")

    # a second tab, opened signed out, follows the login over /api/ds/sse
    other = ctx.new_page()
    other.goto("/ds")
    expect(other.locator("#signed-out")).to_be_visible()
    page.fill("#login-form-password", password)
    submit(page, "login-form")
    expect(page.locator("#signed-in")).to_be_visible()
    expect(page.locator("#notice")).to_have_text("Signed in as Lif.")
    expect(other.locator("#signed-in")).to_be_visible()
    expect(other.locator("#whoami")).to_have_text("Lif")
    shot(page, "index-signed-in")

    # profile: the other tab's header follows the new name
    page.goto("/ds/settings")
    shot(page, "settings")
    page.fill("#profile-form-name", "Liv")
    submit(page, "profile-form")
    expect(page.locator("#notice")).to_have_text("Your profile is saved.")
    expect(other.locator("#whoami")).to_have_text("Liv")

    # password: wrong current password inline, then the change; this browser stays signed in
    page.fill("#password-form-oldPassword", "wrong-one")
    page.fill("#password-form-password", "life-pass-2")
    page.fill("#password-form-passwordConfirm", "life-pass-2")
    submit(page, "password-form")
    expect(page.locator("#password-form-oldPassword-error")).to_be_visible()
    page.fill("#password-form-oldPassword", password)
    page.fill("#password-form-password", "life-pass-2")
    page.fill("#password-form-passwordConfirm", "life-pass-2")
    submit(page, "password-form")
    expect(page.locator("#notice")).to_contain_text("Your password has changed")
    expect(page.locator("#password-form-oldPassword")).to_have_value("")
    expect(other.locator("#signed-in")).to_be_visible()
    password = "life-pass-2"

    # email: a taken address inline, then the link to the new address and the confirmation
    create_user(ui_server, "taken@example.com", "taken-pass-1")
    page.fill("#email-form-newEmail", "taken@example.com")
    submit(page, "email-form")
    expect(page.locator("#email-form-newEmail-error")).to_be_visible()
    page.fill("#email-form-newEmail", "life2@example.com")
    submit(page, "email-form")
    expect(page.locator("#notice")).to_contain_text("life2@example.com")
    page.goto(ui_server.link("life2@example.com", "new email", "confirm-email-change"))
    expect(page.locator("#email-confirm-form-password")).to_be_visible()
    page.fill("#email-confirm-form-password", "wrong-password")
    submit(page, "email-confirm-form")
    expect(page.locator("#email-confirm-form-password-error")).to_be_visible()
    shot(page, "email-change-confirm")
    page.fill("#email-confirm-form-password", password)
    submit(page, "email-confirm-form")
    expect(page.locator("#verify")).to_contain_text("Your email address has changed")
    # every session of the record ended (new tokenKey): the other tab shows it
    expect(other.locator("#signed-out")).to_be_visible()

    # sign in with the new address and delete the account
    sign_in(page, "life2@example.com", password)
    page.goto("/ds/settings")
    submit(page, "delete-form")  # the box is not ticked: the browser's own check stops it
    expect(page.locator("#delete-form")).to_be_visible()
    page.check("#delete-form-confirm")
    submit(page, "delete-form")
    expect(page).to_have_url(re.compile(r"/ds\?collection=users&bye=1$"))
    expect(page.locator("#notice")).to_have_text("Your account has been deleted.")
    expect(other.locator("#signed-out")).to_be_visible()
    shot(page, "account-deleted")
    page.fill("#login-form-identity", "life2@example.com")
    page.fill("#login-form-password", password)
    submit(page, "login-form")
    expect(page.locator("#login-form-error")).to_have_text("Wrong email or password.")


def test_reset_a_forgotten_password(context: tuple[Any, Problems], ui_server: UiServer) -> None:
    from playwright.sync_api import expect

    ctx, _ = context
    create_user(ui_server, "forgot@example.com", "forgot-pass-1", "Forgetful")
    page = ctx.new_page()
    page.goto("/ds")
    page.click("text=Forgot your password?")
    expect(page).to_have_url(re.compile(r"/ds/reset\?collection=users$"))
    page.fill("#reset-form-email", "forgot@example.com")
    shot(page, "reset-request")
    submit(page, "reset-form")
    expect(page.locator("#reset-request")).to_contain_text("Check your mail")

    page.goto(ui_server.link("forgot@example.com", "Reset", "confirm-password-reset"))
    expect(page).to_have_url(re.compile(r"/ds/reset/confirm\?collection=_pb_users_auth_$"))
    page.fill("#reset-confirm-form-password", "forgot-pass-2")
    page.fill("#reset-confirm-form-passwordConfirm", "forgot-pass-3")
    submit(page, "reset-confirm-form")
    expect(page.locator("#reset-confirm-form-passwordConfirm-error")).to_have_text(
        "The passwords do not match."
    )
    shot(page, "reset-confirm")
    page.fill("#reset-confirm-form-password", "forgot-pass-2")
    page.fill("#reset-confirm-form-passwordConfirm", "forgot-pass-2")
    submit(page, "reset-confirm-form")
    expect(page.locator("#reset-confirm")).to_contain_text("Your password has changed")
    sign_in(page, "forgot@example.com", "forgot-pass-2")


def test_sign_in_with_a_code(context: tuple[Any, Problems], ui_server: UiServer) -> None:
    from playwright.sync_api import expect

    ctx, _ = context
    create_user(ui_server, "otp@example.com", "otp-pass-1", "Otto")
    page = ctx.new_page()
    page.goto("/ds")
    page.fill("#otp-form-email", "otp@example.com")
    submit(page, "otp-form")
    expect(page.locator("#otp-form-password")).to_be_visible()
    page.fill("#otp-form-password", "12")
    submit(page, "otp-form")
    expect(page.locator("#otp-form-error")).to_have_text("That code is wrong or has expired.")
    shot(page, "otp-code")
    code = re.search(r"\b(\d{8})\b", ui_server.mails_to("otp@example.com", "OTP")[-1].text)
    assert code
    page.fill("#otp-form-password", code.group(1))
    submit(page, "otp-form")
    expect(page.locator("#signed-in")).to_be_visible()
    expect(page.locator("#whoami")).to_have_text("Otto")


def test_sign_in_with_oauth2(context: tuple[Any, Problems], ui_server: UiServer) -> None:
    from playwright.sync_api import expect

    ctx, _ = context
    ui_server.provider.login(
        {"sub": "browser-1", "email": "oauth@example.com", "email_verified": True, "name": "Oona"}
    )
    page = ctx.new_page()
    page.goto("/ds?redirect=/ds/settings")
    shot(page, "index")
    page.click("text=OIDC")
    # provider -> /ds/callback (code exchanged) -> the page asked for
    expect(page).to_have_url(re.compile(r"/ds/settings$"))
    expect(page.locator("#account-email")).to_have_text("oauth@example.com")
    expect(page.locator("#whoami")).to_have_text("Oona")
    # a callback nobody started is refused
    page.goto("/ds/callback?code=forged&state=forged")
    expect(page.locator("#callback")).to_contain_text("started in another window")
    assert "code=" not in page.url  # the code left the address bar
    shot(page, "callback-error")
    # the SDK's popup flow ends on /_/#/auth/oauth2-redirect-success (the dashboard's front door)
    page.goto("/_/#/auth/oauth2-redirect-success")
    expect(page.locator("#oauth2-success")).to_be_visible()
    expect(page.locator("#signin")).to_be_hidden()
    page.goto("/_/")
    expect(page.locator("#signin")).to_be_visible()
    shot(page, "admin-signin")


def test_busy_indicator_and_form_posts(context: tuple[Any, Problems], ui_server: UiServer) -> None:
    """The submit button is busy (disabled, aria-busy) while its request runs; credentials go as
    form data, never as signals, and the stream's URL carries no signals."""
    from playwright.sync_api import expect

    ctx, _ = context
    page = ctx.new_page()
    with page.expect_request("**/api/ds/sse?*") as stream:
        page.goto("/ds")
    assert "datastar=" not in stream.value.url
    page.evaluate(
        """() => {
          window.__busy = [];
          const button = document.querySelector('#login-form button[type=submit]');
          new MutationObserver(() => window.__busy.push(button.getAttribute('aria-busy')))
            .observe(button, {attributes: true, attributeFilter: ['aria-busy']});
        }"""
    )
    page.fill("#login-form-identity", "nobody@example.com")
    page.fill("#login-form-password", "secret-typed-here")
    with page.expect_request("**/api/ds/login?*") as login:
        submit(page, "login-form")
    request = login.value
    assert request.headers["datastar-request"] == "true"
    assert request.headers["content-type"].startswith("multipart/form-data")
    body = request.post_data or ""
    assert 'name="password"' in body and '"auth"' not in body
    expect(page.locator("#login-form-error")).to_be_visible()
    assert "true" in page.evaluate("window.__busy")
    expect(page.locator("#login-form button[type=submit]")).not_to_have_attribute("aria-busy", "true")

"""Fixtures of the dashboard tests.

- `admin_server`: one real `core serve` for the session, its mail going to a loopback SMTP
  server, with `api` (an httpx client holding a superuser token) to confirm through the JSON
  API what the screens did;
- `admin_context` / `admin_page`: Debian's Chromium (playwright, no browser download) at
  1280x800; `admin_page` is already signed in through the sign-in screen. Every test fails on a
  JavaScript error, a console error or an HTTP error answer;
- `shot(page, name)`: a screenshot of the screen at desktop and at phone width, into
  tests/admin/artifacts/ (gitignored; $CORE_ADMIN_ARTIFACTS overrides it); it fails when the
  page is wider than the phone.

In a module, put the in-process (async) tests before the browser ones: once the module's
Chromium runs, playwright's event loop is the running loop and an async test cannot start its own.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.conftest import Mailbox, loopback_smtp, smtp_settings
from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess, start_core, superuser_client
from tests.ui.conftest import UiServer
from tests.ui.test_browser import Problems, browser  # noqa: F401 (fixture)

ARTIFACTS = Path(os.environ.get("CORE_ADMIN_ARTIFACTS") or Path(__file__).resolve().parent / "artifacts")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class AdminServer:
    url: str
    mailbox: Mailbox
    api: httpx.Client
    process: ServerProcess
    # every mail to an address about a subject, once there is one (it only reads `mailbox`)
    mails_to = UiServer.mails_to

    def count(self, address: str, subject: str) -> int:
        with self.mailbox._lock:
            return sum(1 for m in self.mailbox.mails if address in m.recipients and subject in m.subject)

    def code_after(self, address: str, seen: int, timeout: float = 10.0) -> str:
        """The one-time code of the first OTP mail to `address` after the `seen` ones."""
        deadline = time.monotonic() + timeout
        while self.count(address, "OTP") <= seen:
            assert time.monotonic() < deadline, f"no new OTP mail to {address}"
            time.sleep(0.05)
        text = self.mails_to(address, "OTP")[seen].text
        found = re.search(r"\b(\d{6,8})\b", text)
        assert found, text
        return found.group(1)


@pytest.fixture(scope="session")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    with loopback_smtp() as box:
        process = start_core(tmp_path_factory.mktemp("admin-server") / "data", extra_args=["--no-nats"])
        try:
            api = superuser_client(process)
            settings = smtp_settings(box.port)
            settings["meta"]["appURL"] = process.url
            assert api.patch("/api/settings", json=settings).status_code == 200
            try:
                yield AdminServer(process.url, box, api, process)
            finally:
                api.close()
        finally:
            process.stop()


def new_context(browser: Any, url: str) -> tuple[Any, Problems]:  # noqa: F811
    ctx = browser.new_context(base_url=url, viewport=DESKTOP)
    problems = Problems()
    ctx.on("page", problems.watch)
    return ctx, problems


@pytest.fixture
def admin_context(browser: Any, admin_server: AdminServer) -> Iterator[tuple[Any, Problems]]:  # noqa: F811
    ctx, problems = new_context(browser, admin_server.url)
    try:
        yield ctx, problems
    finally:
        ctx.close()  # pages first: open streams end, so the server has nothing to wait for
    assert not problems.items, "\n".join(problems.items)


def sign_in(page: Any, email: str = DEFAULT_EMAIL, password: str = DEFAULT_PASSWORD) -> None:
    from playwright.sync_api import expect

    page.goto("/_/")
    page.fill("#signin-password-identity", email)
    page.fill("#signin-password-password", password)
    submit(page, "signin-password")
    expect(page.locator("#nav-settings")).to_be_visible()


@pytest.fixture
def admin_page(admin_context: tuple[Any, Problems]) -> Any:
    ctx, _ = admin_context
    page = ctx.new_page()
    sign_in(page)
    return page


def submit(page: Any, form: str) -> None:
    # the tab in front: headless chromium throttles animation frames of background tabs
    page.bring_to_front()
    page.locator(f"#{form} button[type=submit]").first.click()


# the elements that overflow or outgrow a phone screen, to name the culprit in a failure
_WIDE = """() => [...document.querySelectorAll('body, body *')]
  .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().width > window.innerWidth)
  .slice(0, 8).map(e => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${e.scrollWidth}/${e.clientWidth}/${Math.round(e.getBoundingClientRect().width)}`)"""


def shot(page: Any, name: str) -> None:
    """The screen as it is, at 1280x800 and at phone width."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    size = page.viewport_size or DESKTOP
    page.set_viewport_size(PHONE)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
        # at phone width nothing pushes the page sideways (wide tables scroll in their box)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: {overflow}px wider than a phone: {page.evaluate(_WIDE)}"
    finally:
        page.set_viewport_size(size)

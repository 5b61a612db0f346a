"""Fixtures of the UI tests.

- `client`: the app in-process, its mail going to a loopback SMTP server (`mailbox`);
- `ui_server`: one real `core serve` for the session (the event stream and browser tests), with
  its own mailbox, OTP and the loopback OAuth2 provider turned on.

The SMTP server and the OAuth2 provider are the auth tests' own (tests/auth/), reused here.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient

from core.api import build_asgi
from core.app import App
from tests import fixture_data
from tests.auth.conftest import Mail, Mailbox, mailbox, provider, smtp_settings  # noqa: F401 (fixtures)
from tests.auth.oauth2_provider import Provider
from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess, free_port, start_core


@pytest.fixture
async def client(app: App, mailbox: Mailbox) -> AsyncIterator[AsyncTestClient[Any]]:  # noqa: F811
    """The app with a working mailer; the lifespan hooks run (the UI's hub is up)."""
    await app.store.update_settings(smtp_settings(mailbox.port))
    async with AsyncTestClient(app=build_asgi(app)) as c:
        yield c
        await app.auth.mailer.drain()


async def login_cookie(
    client: AsyncTestClient[Any], who: tuple[str, str] = fixture_data.USER1, collection: str = "users"
) -> str:
    """Sign `client` in through /api/ds/login (its cookie jar keeps pb_auth); returns the token."""
    if who == fixture_data.SUPERUSER:
        collection = "_superusers"
    body = {"identity": who[0], "password": who[1]}
    resp = await client.post(f"/api/ds/login?collection={collection}", json=body)
    assert resp.status_code == 200, resp.text
    assert client.cookies.get("pb_auth") == resp.json()["token"]
    return str(resp.json()["token"])


# -- a real `core serve` for the stream and browser tests --------------------------------------
@dataclass
class UiServer:
    """One core process with the UI, a mailbox, OTP and the loopback OAuth2 provider turned on."""

    url: str
    mailbox: Mailbox
    provider: Provider
    superuser_token: str
    process: ServerProcess

    def mails_to(self, address: str, subject: str, timeout: float = 10.0) -> list[Mail]:
        """Every mail to `address` whose subject contains `subject`, once there is at least one."""
        deadline = time.monotonic() + timeout
        while True:
            with self.mailbox._lock:
                found = [m for m in self.mailbox.mails if address in m.recipients and subject in m.subject]
            if found:
                return found
            if time.monotonic() > deadline:
                subjects = [(m.recipients, m.subject) for m in self.mailbox.mails]
                raise AssertionError(f"no mail to {address} about {subject!r}; got {subjects}")
            time.sleep(0.05)

    def link_token(self, address: str, subject: str, action: str) -> str:
        mail = self.mails_to(address, subject)[-1]
        found = re.search(re.escape(f"{self.url}/_/#/auth/{action}/") + r"([\w.-]+)", mail.text)
        assert found, mail.text
        return found.group(1)

    def link(self, address: str, subject: str, action: str) -> str:
        return f"{self.url}/_/#/auth/{action}/{self.link_token(address, subject, action)}"


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    box = Mailbox()
    box.port = free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=box.port)
    smtp.start()
    oauth = Provider().start()
    process = start_core(
        tmp_path_factory.mktemp("ui-server") / "data",
        extra_args=["--no-nats"],
        env={"CORE_UI_KEEPALIVE": "0.5"},
    )
    try:
        with httpx.Client(base_url=process.url, timeout=10) as http:
            login = http.post(
                "/api/collections/_superusers/auth-with-password",
                json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
            )
            token = login.json()["token"]
            headers = {"Authorization": token}
            settings = smtp_settings(box.port)
            settings["meta"]["appURL"] = process.url  # mail links must lead back to this server
            assert http.patch("/api/settings", json=settings, headers=headers).status_code == 200
            users = {
                "otp": {"enabled": True},
                "oauth2": {"enabled": True, "providers": [oauth.config("oidc")]},
            }
            assert http.patch("/api/collections/users", json=users, headers=headers).status_code == 200
        yield UiServer(process.url, box, oauth, token, process)
    finally:
        process.stop()
        oauth.stop()
        smtp.stop()


def create_user(
    server: UiServer, email: str, password: str, name: str = "", verified: bool = True
) -> dict[str, Any]:
    body = {
        "email": email,
        "password": password,
        "passwordConfirm": password,
        "name": name,
        "verified": verified,
    }
    with httpx.Client(base_url=server.url, timeout=10) as http:
        resp = http.post(
            "/api/collections/users/records", json=body, headers={"Authorization": server.superuser_token}
        )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())

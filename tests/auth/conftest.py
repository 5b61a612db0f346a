"""Fixtures for the auth flow tests: a real SMTP server and a real OAuth2 provider on loopback.

`mailbox` is an aiosmtpd server collecting every message; the tests read the mails it received,
pull the links and codes out of them and complete the flows. `provider` is the small OIDC-style
provider of `oauth2_provider.py`. `auth_client` is the in-process API client of an app whose
SMTP settings point at the mailbox.
"""

from __future__ import annotations

import asyncio
import email
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient

from core.api import build_asgi
from core.app import App
from tests.auth.oauth2_provider import Provider
from tests.servers import free_port

APP_URL = "http://app.test"


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    raw: bytes
    message: Message = field(init=False)

    def __post_init__(self) -> None:
        self.message = email.message_from_bytes(self.raw)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode()
        raise AssertionError(f"no {content_type} part in {self.subject!r}")

    @property
    def text(self) -> str:
        return self.part("text/plain")

    @property
    def html(self) -> str:
        return self.part("text/html")

    def token(self, action: str) -> str:
        """The token of the `{APP_URL}/_/#/auth/<action>/<token>` link in the text part."""
        found = re.search(re.escape(f"{APP_URL}/_/#/auth/{action}/") + r"([\w.-]+)", self.text)
        assert found, f"no {action} link in:\n{self.text}"
        return found.group(1)

    def otp(self) -> str:
        found = re.search(r"\b(\d{8})\b", self.text)
        assert found, self.text
        return found.group(1)


class Mailbox:
    """What the SMTP server received, readable from the test's event loop."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.port = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook
        with self._lock:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def count(self) -> int:
        with self._lock:
            return len(self.mails)

    async def wait(self, count: int = 1, timeout: float = 5.0) -> list[Mail]:
        """Wait until `count` mails arrived in total; returns them all."""
        deadline = time.monotonic() + timeout
        while self.count() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} mail(s), got {self.count()}")
            await asyncio.sleep(0.01)
        with self._lock:
            return list(self.mails)

    async def next(self, timeout: float = 5.0) -> Mail:
        """The next mail after the ones already seen (marks it seen)."""
        seen = getattr(self, "_seen", 0)
        mails = await self.wait(seen + 1, timeout)
        self._seen = seen + 1
        return mails[seen]

    async def quiet(self, delay: float = 0.3) -> None:
        """Assert that no mail beyond the ones already seen arrives within `delay`."""
        await asyncio.sleep(delay)
        assert self.count() == getattr(self, "_seen", 0), [m.subject for m in self.mails]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with loopback_smtp() as box:
        yield box


@contextmanager
def loopback_smtp() -> Iterator[Mailbox]:
    """A real SMTP server on a free loopback port; what it receives lands in the Mailbox."""
    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def provider() -> Iterator[Provider]:
    p = Provider().start()
    try:
        yield p
    finally:
        p.stop()


def smtp_settings(port: int) -> dict[str, Any]:
    return {
        "smtp": {"enabled": True, "host": "127.0.0.1", "port": port, "tls": False},
        "meta": {
            "appName": "Acme",
            "appURL": APP_URL,
            "senderName": "Support",
            "senderAddress": "support@example.com",
        },
    }


@pytest.fixture
async def auth_client(app: App, mailbox: Mailbox) -> AsyncIterator[AsyncTestClient[Any]]:
    await app.store.update_settings(smtp_settings(mailbox.port))
    async with AsyncTestClient(app=build_asgi(app)) as c:
        yield c
        await app.auth.mailer.drain()


async def enable(app: App, collection: str, **options: Any) -> None:
    """Patch auth options of a collection (`otp={"enabled": True}`...)."""
    await app.store.update_collection(collection, options)

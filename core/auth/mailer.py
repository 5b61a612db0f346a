"""Sending mail through SMTP, configured by the settings' `smtp` and `meta` objects.

Messages are multipart/mixed holding a multipart/alternative of a quoted-printable text/plain
part and a text/html part, like PocketBase's. The SMTP conversation runs in a worker thread, one
connection per message, so the event loop never waits on a slow mail server.

Most auth flows send in the background (PocketBase answers before the mail is out, which also
keeps response times from telling whether an address exists); a failure is then logged with its
reason. The log line names the mail and the recipient, never the message itself: bodies carry
tokens and one-time codes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import smtplib
import ssl
import string
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import formataddr, formatdate
from typing import Any

from core.auth.html2text import html_to_text

log = logging.getLogger("core.mailer")

SMTP_TIMEOUT_S = 30.0
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_ID_ALPHABET = string.ascii_letters + string.digits


class MailError(Exception):
    """A message could not be sent; the text is safe to log (no message content)."""


@dataclass(frozen=True)
class Message:
    sender_address: str
    to: list[str]
    subject: str
    html: str
    sender_name: str = ""
    text: str = ""  # derived from the HTML when empty
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SMTPConfig:
    host: str
    port: int
    username: str = ""
    password: str = ""
    auth_method: str = ""  # "PLAIN" (default) or "LOGIN"
    tls: bool = False  # implicit TLS from the first byte; otherwise STARTTLS when offered
    local_name: str = ""  # EHLO name, "localhost" when empty

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SMTPConfig | None:
        smtp = settings.get("smtp") or {}
        if not smtp.get("enabled"):
            return None
        return cls(
            host=str(smtp.get("host") or ""),
            port=int(smtp.get("port") or 0),
            username=str(smtp.get("username") or ""),
            password=str(smtp.get("password") or ""),
            auth_method=str(smtp.get("authMethod") or "").upper(),
            tls=bool(smtp.get("tls")),
            local_name=str(smtp.get("localName") or ""),
        )


def _one_line(value: str) -> str:
    # header values come partly from templates and record data: no header injection
    return " ".join(value.splitlines())


def build_mime(msg: Message) -> bytes:
    charset = Charset("utf-8")
    charset.body_encoding = QP
    alternative = MIMEMultipart("alternative")
    for subtype, body in (("plain", msg.text or html_to_text(msg.html)), ("html", msg.html)):
        part = MIMENonMultipart("text", subtype)
        part.set_payload(body, charset)  # quoted-printable: readable and 7-bit safe
        alternative.attach(part)
    root = MIMEMultipart("mixed")
    root.attach(alternative)
    sender = _one_line(msg.sender_address)
    root["From"] = formataddr((_one_line(msg.sender_name), sender)) if msg.sender_name else sender
    root["To"] = ", ".join(_one_line(a) for a in msg.to)
    subject = _one_line(msg.subject)
    root["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    root["Date"] = formatdate(usegmt=False)
    domain = sender.rpartition("@")[2] or "localhost"
    root["Message-ID"] = f"<{''.join(secrets.choice(_ID_ALPHABET) for _ in range(15))}@{domain}>"
    for key, value in msg.headers.items():
        root[key] = _one_line(value)
    # SMTP wants CRLF line ends, and smtplib sends bytes as they are
    return root.as_bytes(policy=compat32.clone(linesep="\r\n"))


def send_smtp(cfg: SMTPConfig, msg: Message, timeout: float = SMTP_TIMEOUT_S) -> None:
    """One SMTP conversation (blocking). Raises MailError with a loggable reason."""
    if not cfg.host or cfg.port <= 0:
        raise MailError("SMTP host or port is not configured")
    payload = build_mime(msg)
    local = cfg.local_name or "localhost"
    try:
        if cfg.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.host,
                cfg.port,
                local_hostname=local,
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, local_hostname=local, timeout=timeout)
        with client:
            client.ehlo()
            encrypted = cfg.tls
            if not cfg.tls and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
                encrypted = True
            if cfg.username or cfg.password:
                if not encrypted and cfg.host not in LOCAL_HOSTS:
                    # like Go's net/smtp: credentials never cross the network in clear
                    raise MailError("refusing to send SMTP credentials over an unencrypted connection")
                client.user, client.password = cfg.username, cfg.password
                if cfg.auth_method == "LOGIN":
                    client.auth("LOGIN", client.auth_login)
                else:
                    client.auth("PLAIN", client.auth_plain)
            client.sendmail(msg.sender_address, list(msg.to), payload)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}") from exc


class Mailer:
    """The app's mail client: reads the current settings at each send."""

    def __init__(self, settings: Callable[[], Mapping[str, Any]]) -> None:
        self._settings = settings
        self._pending: set[asyncio.Task[None]] = set()

    def message(self, to: str, subject: str, html: str) -> Message:
        meta = self._settings().get("meta") or {}
        return Message(
            sender_address=str(meta.get("senderAddress") or ""),
            sender_name=str(meta.get("senderName") or ""),
            to=[to],
            subject=subject,
            html=html,
        )

    async def send(self, msg: Message) -> None:
        cfg = SMTPConfig.from_settings(self._settings())
        if cfg is None:
            raise MailError("SMTP is not enabled in the settings")
        await asyncio.to_thread(send_smtp, cfg, msg)

    def send_background(
        self,
        msg: Message,
        what: str,
        *,
        on_success: Callable[[], Awaitable[None]] | None = None,
        on_failure: Callable[[], Awaitable[None]] | None = None,
    ) -> asyncio.Task[None]:
        """Send without making the caller wait; a failure is logged (and `on_failure` runs)."""

        async def ready() -> Message:
            return msg

        return self.send_later(ready, what, on_success=on_success, on_failure=on_failure)

    def send_later(
        self,
        prepare: Callable[[], Awaitable[Message]],
        what: str,
        *,
        on_success: Callable[[], Awaitable[None]] | None = None,
        on_failure: Callable[[], Awaitable[None]] | None = None,
    ) -> asyncio.Task[None]:
        """Like send_background, with the message built in the background too: `prepare` may
        also store what the mail refers to. If it fails, nothing is sent (logged)."""

        async def run() -> None:
            try:
                msg = await prepare()
            except Exception:
                log.exception("Failed to prepare the %s email", what)
                return
            try:
                await self.send(msg)
            except MailError as exc:
                log.error("Failed to send %s email to %s: %s", what, ", ".join(msg.to), exc)
                if on_failure is not None:
                    await _quietly(on_failure, what)
                return
            if on_success is not None:
                await _quietly(on_success, what)

        task = asyncio.get_running_loop().create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait (a bounded time) for background mails, e.g. at shutdown or in tests.

        Polls rather than awaiting the tasks: the caller's event loop may not be the one the
        tasks run on (a test client serves the app from its own thread).
        """
        deadline = time.monotonic() + timeout
        while any(not t.done() for t in list(self._pending)) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)


async def _quietly(callback: Callable[[], Awaitable[None]], what: str) -> None:
    try:
        await callback()
    except Exception:
        log.exception("follow-up of the %s email failed", what)

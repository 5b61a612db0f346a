"""The mailer on its own: text conversion, templates, the MIME shape, SMTP auth and failures."""

from __future__ import annotations

import email
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from core.auth import templates
from core.auth.html2text import html_to_text
from core.auth.mailer import Mailer, MailError, Message, SMTPConfig, build_mime, send_smtp
from core.store.schema import Collection, Field, auth_system_fields
from tests.auth.conftest import Mailbox
from tests.servers import free_port


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello,</p>\n<p>World</p>", "Hello, \r\nWorld"),
        ('<p>Go <a href="http://x/y">there</a> now</p>', "Go [there](http://x/y) now"),
        ('<a href="http://x"> </a>', "[LINK](http://x)"),
        ("<a>no href</a>", "[no href]"),
        ("a<br>b<br/><br>c", "a\r\nb\r\n\r\nc"),
        ("<ul><li>one</li><li>two</li></ul>", "- one\r\n- two"),
        ("<style>p{}</style><script>x()</script><p>  spaced \n\t text </p>", "spaced text"),
        ("<p>a &amp; b &lt;c&gt;</p>", "a & b <c>"),
        ("<p>x <strong>bold</strong> <em>it</em></p>", "x bold it"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def _users() -> Collection:
    fields = [Field("id", "text"), *auth_system_fields(), Field("name", "text"), Field("age", "number")]
    fields.append(Field("secret", "text", hidden=True))
    return Collection("users", "auth", fields=fields)


def test_record_placeholders() -> None:
    record = {"id": "r1", "email": "a@b.co", "name": "<Bob>", "age": 42.0, "verified": True, "secret": "s3"}
    values = templates.record_placeholders(_users(), record)
    assert values["{RECORD:name}"] == "&lt;Bob&gt;"  # escaped
    assert values["{RECORD:age}"] == "42" and values["{RECORD:verified}"] == "true"  # not escaped
    assert "{RECORD:secret}" not in values and "{RECORD:password}" not in values  # hidden fields


def test_resolve_is_single_pass() -> None:
    template = {
        "subject": "Hi {RECORD:name} at {APP_NAME}",
        "body": "<p>{RECORD:name}: {TOKEN} {UNKNOWN}</p>",
    }
    values = {"{RECORD:name}": "{TOKEN}", "{TOKEN}": "secret-token", "{APP_NAME}": "Acme"}
    subject, body = templates.resolve(template, values)
    assert subject == "Hi {TOKEN} at Acme"  # a value is never expanded again
    assert "<p>{TOKEN}: secret-token {UNKNOWN}</p>" in body
    assert body.lstrip().startswith("<!DOCTYPE html")


def test_mime_shape_and_header_injection() -> None:
    msg = Message(
        sender_address="support@example.com",
        sender_name="Support Team",
        to=["a@example.com"],
        subject="Hello\r\nBcc: victim@example.com",
        html="<p>Héllo <a href='http://x'>link</a></p>",
    )
    parsed = email.message_from_bytes(build_mime(msg))
    assert parsed.get_content_type() == "multipart/mixed"
    parts = [p.get_content_type() for p in parsed.walk()]
    assert parts == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html"]
    plain = next(p for p in parsed.walk() if p.get_content_type() == "text/plain")
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert plain.get_payload(decode=True) == "Héllo [link](http://x)".encode()
    assert parsed["From"] == "Support Team <support@example.com>"
    assert parsed["Bcc"] is None and parsed["Subject"] == "Hello Bcc: victim@example.com"
    assert parsed["Message-ID"].endswith("@example.com>")
    assert b"\r\n" in build_mime(msg) and b"\n\n" not in build_mime(msg)  # CRLF line ends


class _Authenticator:
    def __init__(self) -> None:
        self.mechanisms: list[str] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.mechanisms.append(mechanism)
        ok = auth_data.login == b"mailer" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def auth_smtp() -> Iterator[tuple[Mailbox, _Authenticator]]:
    box, authenticator = Mailbox(), _Authenticator()
    box.port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield box, authenticator
    finally:
        controller.stop()


MESSAGE = Message(sender_address="s@example.com", to=["r@example.com"], subject="S", html="<p>x</p>")


# plain-text AUTH, on loopback only: aiosmtpd warns about it (rightly, in general)
NO_TLS_WARNING = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@NO_TLS_WARNING
@pytest.mark.parametrize("method", ["PLAIN", "LOGIN", ""])
async def test_smtp_auth_methods(auth_smtp: tuple[Mailbox, _Authenticator], method: str) -> None:
    box, authenticator = auth_smtp
    cfg = SMTPConfig("127.0.0.1", box.port, "mailer", "s3cret", auth_method=method, local_name="core.test")
    send_smtp(cfg, MESSAGE)
    (mail,) = await box.wait(1)
    assert mail.sender == "s@example.com" and mail.recipients == ["r@example.com"]
    assert authenticator.mechanisms == [method or "PLAIN"]


@NO_TLS_WARNING
async def test_smtp_failures_are_mail_errors(auth_smtp: tuple[Mailbox, _Authenticator]) -> None:
    box, _ = auth_smtp
    with pytest.raises(MailError) as wrong:
        send_smtp(SMTPConfig("127.0.0.1", box.port, "mailer", "wrong-password"), MESSAGE)
    assert "wrong-password" not in str(wrong.value)  # the reason is loggable: no credentials
    with pytest.raises(MailError):
        send_smtp(SMTPConfig("127.0.0.1", box.port), MESSAGE)  # the server requires auth
    with pytest.raises(MailError):
        send_smtp(SMTPConfig("127.0.0.1", free_port()), MESSAGE)
    with pytest.raises(MailError):
        await Mailer(lambda: {"smtp": {"enabled": False}}).send(MESSAGE)


def test_smtp_config_from_settings() -> None:
    assert SMTPConfig.from_settings({"smtp": {"enabled": False, "host": "h"}}) is None
    cfg = SMTPConfig.from_settings(
        {
            "smtp": {
                "enabled": True,
                "host": "h",
                "port": 465,
                "tls": True,
                "authMethod": "login",
                "localName": "n",
            }
        }
    )
    assert cfg == SMTPConfig("h", 465, auth_method="LOGIN", tls=True, local_name="n")


@NO_TLS_WARNING
def test_no_credentials_over_plain_text_to_a_remote_host() -> None:
    # 127.0.0.2 is loopback too, but not one of the names treated as local: it stands for a
    # remote server that offers no STARTTLS
    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.2", port=box.port)
    controller.start()
    try:
        with pytest.raises(MailError, match="unencrypted"):
            send_smtp(SMTPConfig("127.0.0.2", box.port, "mailer", "s3cret"), MESSAGE)
        send_smtp(SMTPConfig("127.0.0.2", box.port), MESSAGE)  # without credentials it may send
    finally:
        controller.stop()
    assert box.count() == 1


async def test_smtp_from_the_environment(tmp_path: Any, mailbox: Mailbox) -> None:
    from core.app import App
    from core.config import Settings

    env = {
        "CORE_POCKETBASE_SMTP_HOST": "127.0.0.1",
        "CORE_POCKETBASE_SMTP_PORT": str(mailbox.port),
        "CORE_POCKETBASE_SENDER_ADDRESS": "noreply@example.com",
    }
    app = App(Settings(data_dir=tmp_path, env=env))
    app.open()
    try:
        await app.auth.mailer.send(app.auth.mailer.message("to@example.com", "Hi", "<p>hi</p>"))
    finally:
        app.close()
    mail = await mailbox.next()
    assert mail.sender == "noreply@example.com" and mail.text == "hi"

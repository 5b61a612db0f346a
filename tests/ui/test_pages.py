"""The pages (GET /ds...), the /_/ mail-link forwarder and the static files."""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.app import App
from tests import fixture_data
from tests.auth.conftest import enable
from tests.ui.conftest import login_cookie
from tests.ui.helpers import set_cookies

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_SHA256 = "fc47d2b4cfea9e6cdc93d287a0db38b2e894d813aa1e892e11de1be526620372"

PAGES = [
    ("/ds", "Sign in", 'id="login-form"'),
    ("/ds/callback?code=abc&state=def", "Signing in", 'id="callback-auto"'),
    ("/ds/signup", "Create an account", 'id="signup-form"'),
    ("/ds/verify-email", "Confirm your email", 'id="verify-auto"'),
    ("/ds/verify-email?change=1", "Confirm your email", 'id="email-confirm-form"'),
    ("/ds/reset", "Reset your password", 'id="reset-form"'),
    ("/ds/reset/confirm", "Choose a new password", 'id="reset-confirm-form"'),
    ("/ds/settings", "Account settings", "You are signed out"),
]


def signals_of(page: str) -> dict[str, Any]:
    raw = re.search(r'<body data-signals="([^"]*)"', page)
    assert raw, page[:500]
    return dict(json.loads(html.unescape(raw.group(1))))


@pytest.mark.parametrize(("path", "title", "marker"), PAGES, ids=[p[0] for p in PAGES])
async def test_page(client: AsyncTestClient[Any], path: str, title: str, marker: str) -> None:
    resp = await client.get(path)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert resp.headers["cache-control"] == "no-store"
    page = resp.text
    assert f"<title>{title} · " in page and marker in page
    assert signals_of(page) == {
        "auth": {
            "signedIn": False,
            "id": "",
            "collection": "",
            "email": "",
            "name": "",
            "verified": False,
            "superuser": False,
            "impersonated": False,
        }
    }
    # the stream is opened form-encoded: no signal ever travels in its URL
    stream = re.search(r'<form id="ds-stream" hidden data-on-load="([^"]*)"', page)
    assert stream and "contentType&#34;: &#34;form" in stream.group(1)
    # the device cookie ties this browser's tabs together
    device = set_cookies(resp)["pb_device"]
    assert "HttpOnly" in device and "SameSite=lax" in device
    assert '<script type="module" src="/ds/static/datastar-1.0.0-beta.11.js?v=' in page
    # every input has a label
    for input_id in re.findall(r'<input id="([^"]+)"', page):
        assert f'for="{input_id}"' in page, input_id


async def test_pages_signed_in(client: AsyncTestClient[Any]) -> None:
    token = await login_cookie(client)
    index = (await client.get("/ds?redirect=/ds/settings")).text
    assert signals_of(index)["auth"]["email"] == fixture_data.USER1[0]
    assert 'id="signed-out" data-show="!$auth.signedIn" style="display: none"' in index
    assert '<a class="button" href="/ds/settings">Continue</a>' in index
    settings = (await client.get("/ds/settings")).text
    assert 'id="profile-form"' in settings and 'value="User One"' in settings
    assert 'id="impersonate-form"' not in settings
    assert token not in index + settings


async def test_settings_of_a_superuser(client: AsyncTestClient[Any]) -> None:
    await login_cookie(client, fixture_data.SUPERUSER)
    page = (await client.get("/ds/settings?collection=_superusers")).text
    assert 'id="impersonate-form"' in page and 'id="email-form"' not in page


async def test_index_offers_the_enabled_methods(client: AsyncTestClient[Any], app: App) -> None:
    page = (await client.get("/ds")).text
    assert 'id="otp-form"' not in page
    await enable(app, "users", otp={"enabled": True}, passwordAuth={"enabled": False})
    page = (await client.get("/ds")).text
    assert 'id="otp-form"' in page and 'id="login-form"' not in page
    bye = (await client.get("/ds?bye=1")).text
    assert "Your account has been deleted." in bye


async def test_unknown_collection_page(client: AsyncTestClient[Any]) -> None:
    resp = await client.get("/ds?collection=posts")
    assert resp.status_code == 404 and "no auth collection named" in resp.text
    assert (await client.get("/ds/settings?collection=nope")).status_code == 404


async def test_collection_by_id(client: AsyncTestClient[Any]) -> None:
    # mail links only know the collection id; the pages speak its name
    page = (await client.get("/ds/verify-email?collection=_pb_users_auth_")).text
    assert "/api/ds/confirm-verification?collection=users" in html.unescape(page)


async def test_mail_link_page(client: AsyncTestClient[Any]) -> None:
    resp = await client.get("/_/")
    assert resp.status_code == 200 and resp.headers["referrer-policy"] == "no-referrer"
    assert "/ds/static/mail-link.js?v=" in resp.text


async def test_static_files(client: AsyncTestClient[Any]) -> None:
    bundle = await client.get("/ds/static/datastar-1.0.0-beta.11.js")
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("text/javascript")
    assert hashlib.sha256(bundle.content).hexdigest() == BUNDLE_SHA256
    assert bundle.content.startswith(b"// Datastar v1.0.0-beta.11")
    assert "immutable" in bundle.headers["cache-control"]
    license_text = await client.get("/ds/static/datastar.LICENSE")
    assert license_text.headers["content-type"].startswith("text/plain")
    assert "Copyright (c) Star Federation" in license_text.text and "MIT" in license_text.text
    css = await client.get("/ds/static/ui.css")
    assert css.headers["content-type"].startswith("text/css")
    assert (await client.get("/ds/static/../templates/base.html")).status_code == 404
    assert (await client.get("/ds/static/base.html")).status_code == 404


def test_the_vendored_bundle_is_the_npm_file() -> None:
    vendored = ROOT / "assets" / "vendor" / "datastar-1.0.0-beta.11.js"
    assert hashlib.sha256(vendored.read_bytes()).hexdigest() == BUNDLE_SHA256
    assert (ROOT / "assets" / "vendor" / "datastar.LICENSE").is_file()

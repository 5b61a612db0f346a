"""Every dashboard route is behind the superuser guard, except the sign-in and first-run ones:
found from core.admin.routes itself, so a new screen is covered the day it is added."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

from core.admin import routes
from tests.admin.test_session import DS, sign_in

# "/_" is how Litestar lists "/_/"; /_/settings only redirects to its first tab
PUBLIC = {
    "/_",
    "/_/settings",
    "/_/login",
    "/_/install",
    "/_/api/login",
    "/_/api/otp/request",
    "/_/api/otp/auth",
    "/_/api/logout",
    "/_/api/install",
}


# a value for each path parameter that needs a particular shape; any other gets "x"
SAMPLES = {"key": "x.zip", "tab": "mail", "collection": "users"}


def _guarded() -> list[tuple[str, str]]:
    out = []
    for handler in routes:
        for path in handler.paths:
            if path in PUBLIC:
                continue
            url = re.sub(r"\{(\w+):\w+\}", lambda m: SAMPLES.get(m.group(1), "x"), path)
            for method in sorted(handler.http_methods):
                out.append((method, url))
    return out


async def test_guests_and_users_get_nothing(client: AsyncTestClient[Any], tokens: dict[str, str]) -> None:
    # one app for the whole table: each case only reads, and the cookie is set per case
    cases = _guarded()
    assert len(cases) > 15
    for method, url in cases:
        assert "{" not in url, url
        client.cookies.clear()
        guest = await client.request(method, url, headers=DS, follow_redirects=False)
        if url.startswith("/_/api/"):
            assert guest.status_code == 200 and "/_/login" in guest.text, (method, url)
            assert "window.location.assign" in guest.text, (method, url)
            plain = await client.request(method, url, follow_redirects=False)
            assert plain.status_code == 401 and plain.json()["status"] == 401, (method, url)
        else:
            assert guest.status_code == 303 and guest.headers["location"].startswith("/_/login"), (
                method,
                url,
            )
        # a signed-in user of another collection is a guest here too
        client.cookies.set("pb_admin", tokens["user1"])
        again = await client.request(method, url, headers=DS, follow_redirects=False)
        assert again.status_code in (200, 303) and "set-cookie" not in again.headers, (method, url)
        assert "/_/login" in (again.text + again.headers.get("location", "")), (method, url)


async def test_a_write_without_the_datastar_header_is_refused_even_when_signed_in(
    client: AsyncTestClient[Any],
) -> None:
    await sign_in(client)
    resp = await client.post(
        "/_/api/superusers",
        data={
            "email": "csrf@example.com",
            "password": "long-password-1",
            "passwordConfirm": "long-password-1",
        },
        headers={"Origin": str(client.base_url)},
    )
    assert resp.status_code == 401
    listed = await client.get("/_/superusers")
    assert "csrf@example.com" not in listed.text


async def test_junk_bodies_never_break_a_screen(client: AsyncTestClient[Any]) -> None:
    """Signed in, every write endpoint gets bodies no form sends: the answer is a Datastar
    event stream or PocketBase's error JSON, never a 500."""
    await sign_in(client)
    junk = [
        ("application/json", b"\xff\x00{not json"),
        ("application/json", b"[1, 2, 3]"),
        ("application/x-www-form-urlencoded", b"%%%=%zz&a[]=1&" + b"x" * 5000),
        ("multipart/form-data; boundary=nope", b"--other\r\n\r\n"),
        ("text/plain", b"\x00" * 100),
    ]
    for method, url in _guarded():
        if method != "POST":
            continue
        for content_type, body in junk:
            headers = {**DS, "Origin": str(client.base_url), "Content-Type": content_type}
            resp = await client.request(method, url, content=body, headers=headers)
            assert resp.status_code < 500, (url, content_type, resp.status_code)
            assert "Traceback" not in resp.text, (url, content_type)
            if resp.status_code == 200:
                assert resp.headers["content-type"].startswith("text/event-stream"), (url, content_type)


async def test_a_body_that_is_not_the_tabs_form_changes_no_setting(
    client: AsyncTestClient[Any], app: Any
) -> None:
    await sign_in(client)
    before = app.store.settings.get()
    headers = {**DS, "Origin": str(client.base_url)}
    for body in ({}, {"unrelated": "1"}, {"logs.maxDays": "3"}):
        resp = await client.post("/_/api/settings/logs", data=body, headers=headers)
        assert "An error occurred while loading the submitted data." in resp.text
    assert app.store.settings.get() == before

"""The dashboard's session and guard, in-process: cookie attributes, CSRF refusals, sign-in
through PocketBase's own handler, and the /_/ front door keeping PocketBase's mail links."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.app import App
from tests import fixture_data

DS = {"Datastar-Request": "true"}


async def sign_in(client: AsyncTestClient[Any], who: tuple[str, str] = fixture_data.SUPERUSER) -> Any:
    headers = {**DS, "Origin": str(client.base_url)}
    return await client.post("/_/api/login", data={"identity": who[0], "password": who[1]}, headers=headers)


async def test_sign_in_sets_a_strict_httponly_cookie_scoped_to_the_dashboard(
    client: AsyncTestClient[Any],
) -> None:
    resp = await sign_in(client)
    assert resp.status_code == 200
    assert "window.location.assign" in resp.text and '"/_/"' in resp.text
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("pb_admin=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/_/" in lowered
    page = await client.get("/_/")
    assert page.status_code == 200 and 'id="nav-settings"' in page.text


async def test_wrong_password_shows_pocketbase_message_and_sets_no_cookie(
    client: AsyncTestClient[Any],
) -> None:
    resp = await sign_in(client, (fixture_data.SUPERUSER[0], "wrong-password"))
    assert resp.status_code == 200
    assert "Failed to authenticate." in resp.text and "set-cookie" not in resp.headers


async def test_a_user_is_not_a_superuser(client: AsyncTestClient[Any]) -> None:
    resp = await sign_in(client, fixture_data.USER1)
    assert "set-cookie" not in resp.headers
    assert (await client.get("/_/superusers", follow_redirects=False)).status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no datastar header"),
        pytest.param({**DS, "Origin": "https://evil.example"}, id="foreign origin"),
        pytest.param({**DS, "Origin": "null"}, id="null origin"),
        pytest.param({**DS, "Sec-Fetch-Site": "cross-site"}, id="cross-site fetch"),
    ],
)
async def test_cross_site_requests_are_refused(client: AsyncTestClient[Any], headers: dict[str, str]) -> None:
    # sign-in CSRF: no cookie is ever set for such a request
    resp = await client.post(
        "/_/api/login",
        data={"identity": fixture_data.SUPERUSER[0], "password": fixture_data.SUPERUSER[1]},
        headers=headers,
    )
    assert "set-cookie" not in resp.headers
    # and a signed-in browser's cookie does not authorise a write from elsewhere
    await sign_in(client)
    out = await client.post("/_/api/logout", headers=headers)
    assert "set-cookie" not in out.headers


async def test_pages_send_guests_to_sign_in_and_back(client: AsyncTestClient[Any]) -> None:
    resp = await client.get("/_/superusers?page=2", follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/_/login?next=%2F_%2Fsuperusers%3Fpage%3D2"
    login = await client.get(resp.headers["location"])
    assert 'name="next" value="/_/superusers?page=2"' in login.text


async def test_next_is_never_an_open_redirect(client: AsyncTestClient[Any]) -> None:
    headers = {**DS, "Origin": str(client.base_url)}
    body = {
        "identity": fixture_data.SUPERUSER[0],
        "password": fixture_data.SUPERUSER[1],
        "next": "//evil.example/x",
    }
    resp = await client.post("/_/api/login", data=body, headers=headers)
    assert '"/_/"' in resp.text and "evil" not in resp.text


async def test_front_door_keeps_mail_links_working(client: AsyncTestClient[Any]) -> None:
    resp = await client.get("/_/")
    assert resp.status_code == 200 and resp.headers["referrer-policy"] == "no-referrer"
    assert "/ds/static/mail-link.js?v=" in resp.text and 'id="signin"' in resp.text


async def test_logout_clears_the_cookie(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    resp = await client.post("/_/api/logout", headers={**DS, "Origin": str(client.base_url)})
    assert 'pb_admin=""' in resp.headers["set-cookie"] or "max-age=0" in resp.headers["set-cookie"].lower()
    assert (await client.get("/_/superusers", follow_redirects=False)).status_code == 303


# -- the first-run screen -----------------------------------------------------------------------
async def _no_superusers(app: App) -> None:
    from core import superusers

    # straight in SQL: the write path itself refuses to delete the only superuser
    app.store.db.write_sync(lambda ctx: ctx.conn.execute("DELETE FROM _superusers"))
    assert superusers.count(app.store) == 0


async def test_first_run_from_elsewhere_needs_the_one_time_token(
    client: AsyncTestClient[Any], app: App
) -> None:
    from core.admin import install

    await _no_superusers(app)
    headers = {**DS, "Origin": str(client.base_url)}
    body = {"email": "x@example.com", "password": "long-enough-1", "passwordConfirm": "long-enough-1"}
    # the test client is not a loopback peer: without the link's token nothing is created
    page = await client.get("/_/")
    assert 'id="install-form"' in page.text and 'id="install-link-note"' in page.text
    refused = await client.post("/_/api/install", data={**body, "token": "guess"}, headers=headers)
    assert "one-time link" in refused.text and "set-cookie" not in refused.headers
    token = install.issue(app)
    # a cross-site post is refused even with the token
    cross = await client.post(
        "/_/api/install", data={**body, "token": token}, headers={**DS, "Origin": "https://evil.example"}
    )
    assert "refused" in cross.text
    ok = await client.post("/_/api/install", data={**body, "token": token}, headers=headers)
    assert "pb_admin=" in ok.headers["set-cookie"] and '"/_/"' in ok.text
    # spent: the screen is gone for good
    again = await client.post(
        "/_/api/install", data={**body, "email": "y@example.com", "token": token}, headers=headers
    )
    assert "/_/login" in again.text
    assert (await client.get("/_/install", follow_redirects=False)).headers["location"] == "/_/login"


async def test_an_expired_token_is_refused(app: App) -> None:
    from core.admin import install

    token = install.issue(app)
    assert install.token_valid(app, token) and not install.token_valid(app, token + "x")
    path = install._token_path(app)
    path.write_text(f"{token}\n{1}\n")
    assert not install.token_valid(app, token)


async def test_superuser_ips_hold_for_the_dashboard_too(client: AsyncTestClient[Any], app: App) -> None:
    await sign_in(client)
    await app.store.update_settings({"superuserIPs": ["10.9.9.9"]})
    page = await client.get("/_/superusers")
    assert page.status_code == 403 and 'id="error-page"' in page.text
    write = await client.post(
        "/_/api/superusers", data={"email": "z@example.com"}, headers={**DS, "Origin": str(client.base_url)}
    )
    assert "not allowed" in write.text.lower() or "permission" in write.text.lower()
    await app.store.update_settings({"superuserIPs": []})
    assert (await client.get("/_/superusers")).status_code == 200


async def test_the_overview_counts_what_the_api_lists(
    client: AsyncTestClient[Any], tokens: dict[str, str]
) -> None:
    await sign_in(client)
    page = (await client.get("/_/")).text
    h = {"Authorization": tokens["superuser"]}
    total = (await client.get("/api/collections", params={"perPage": 1}, headers=h)).json()["totalItems"]
    assert f'<span class="muted">Collections</span><strong>{total}</strong>' in page


async def test_a_first_run_create_checks_for_superusers_inside_its_write(app: App) -> None:
    from core import superusers

    # what two concurrent first runs come down to: the second write finds the first one's row
    with pytest.raises(superusers.SuperuserError, match="exists already"):
        superusers.upsert(app.store, "late@example.com", "late-password-1", first=True)
    assert superusers.count(app.store) == 1

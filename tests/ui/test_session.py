"""/api/ds/login, /refresh, /logout, /whoami, /impersonate in both modes, and the session rules:
the cookie's attributes, cross-site refusals, no secrets in signals, rate limits."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.app import App
from tests import fixture_data
from tests.ui.conftest import login_cookie
from tests.ui.helpers import DS, DsAnswer, U, same_answer, set_cookies

EMAIL, PASSWORD = fixture_data.USER1


# -- login -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"identity": EMAIL, "password": PASSWORD},
        {"identity": EMAIL, "password": "wrong"},
        {"identity": "", "password": ""},
        {"identity": EMAIL, "password": PASSWORD, "identityField": "nope"},
        {"identity": 5, "password": PASSWORD},
    ],
    ids=["ok", "wrong-password", "blank", "bad-identity-field", "not-a-string"],
)
async def test_login_plain_is_auth_with_password(client: AsyncTestClient[Any], body: dict[str, Any]) -> None:
    pb = await client.post(f"{U}/auth-with-password", json=body)
    ds = await client.post("/api/ds/login", json=body)
    same_answer(pb, ds)
    if pb.status_code == 200:
        # same claims in the same second: the very same token
        assert ds.json()["token"] == pb.json()["token"] or ds.json()["record"] == pb.json()["record"]


async def test_login_plain_unknown_collection(client: AsyncTestClient[Any]) -> None:
    body = {"identity": EMAIL, "password": PASSWORD}
    same_answer(
        await client.post("/api/collections/posts/auth-with-password", json=body),
        await client.post("/api/ds/login?collection=posts", json=body),
    )
    same_answer(
        await client.post("/api/collections/nope/auth-with-password", json=body),
        await client.post("/api/ds/login?collection=nope", json=body),
    )


async def test_login_sets_the_session_cookie(client: AsyncTestClient[Any]) -> None:
    resp = await client.post("/api/ds/login", json={"identity": EMAIL, "password": PASSWORD})
    cookie = set_cookies(resp)["pb_auth"]
    assert f"pb_auth={resp.json()['token']}" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # the app URL is http here
    assert "Max-Age=4320" in cookie  # the token's lifetime (5 days), give or take a second
    assert resp.headers["cache-control"] == "no-store"


async def test_cookie_is_secure_when_the_app_url_is_https(client: AsyncTestClient[Any], app: App) -> None:
    await app.store.update_settings({"meta": {"appURL": "https://app.example.com"}})
    resp = await client.post("/api/ds/login", json={"identity": EMAIL, "password": PASSWORD})
    assert "Secure" in set_cookies(resp)["pb_auth"]


async def test_login_datastar(client: AsyncTestClient[Any]) -> None:
    bad = DsAnswer(
        await client.post("/api/ds/login", data={"identity": EMAIL, "password": "nope"}, headers=DS)
    )
    form = bad.fragment("login-form")
    assert "Wrong email or password." in form and f'value="{EMAIL}"' in form
    assert 'name="password" type="password" autocomplete' in form  # never echoed back
    assert "pb_auth" not in set_cookies(bad.resp)

    blank = DsAnswer(await client.post("/api/ds/login", data={"identity": "", "password": ""}, headers=DS))
    assert 'id="login-form-identity-error">Cannot be blank.' in blank.fragment("login-form")
    assert 'aria-invalid="true"' in blank.fragment("login-form")

    ok = DsAnswer(
        await client.post(
            "/api/ds/login",
            data={"identity": EMAIL, "password": PASSWORD, "redirect": "/ds/settings"},
            headers=DS,
        )
    )
    auth = ok.signals["auth"]
    assert auth["signedIn"] is True and auth["email"] == EMAIL and auth["name"] == "User One"
    assert ok.notice() == "Signed in as User One."
    assert ok.scripts == ['window.location.assign("/ds/settings")']
    token = client.cookies.get("pb_auth")
    assert token and token not in ok.text  # the token never reaches the page
    assert PASSWORD not in ok.text


async def test_login_datastar_refuses_open_redirects(client: AsyncTestClient[Any]) -> None:
    for target in ("https://evil.test/", "//evil.test", "/\\evil.test"):
        ok = DsAnswer(
            await client.post(
                "/api/ds/login",
                data={"identity": EMAIL, "password": PASSWORD, "redirect": target},
                headers=DS,
            )
        )
        assert ok.scripts == []


async def test_login_from_another_site_sets_no_cookie(client: AsyncTestClient[Any]) -> None:
    # a foreign page posting credentials must not log this browser in (login CSRF)
    resp = await client.post(
        "/api/ds/login",
        json={"identity": EMAIL, "password": PASSWORD},
        headers={"Origin": "https://evil.test"},
    )
    assert resp.status_code == 200 and "pb_auth" not in set_cookies(resp)
    resp = await client.post(
        "/api/ds/login",
        json={"identity": EMAIL, "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert "pb_auth" not in set_cookies(resp)
    resp = await client.post(
        "/api/ds/login",
        json={"identity": EMAIL, "password": PASSWORD},
        headers={"Origin": "http://testserver.local"},
    )
    assert "pb_auth" in set_cookies(resp)


async def test_rate_limits_count_ds_login_as_auth(client: AsyncTestClient[Any], app: App) -> None:
    await app.store.update_settings(
        {
            "rateLimits": {
                "enabled": True,
                "rules": [{"label": "*:auth", "audience": "", "duration": 60, "maxRequests": 2}],
            }
        }
    )
    body = {"identity": EMAIL, "password": "wrong"}
    assert (await client.post("/api/ds/login", json=body)).status_code == 400
    assert (await client.post("/api/ds/login", json=body)).status_code == 400
    limited = await client.post("/api/ds/login", json=body)
    assert limited.status_code == 429 and limited.json()["message"] == "Too Many Requests."
    page = DsAnswer(await client.post("/api/ds/login", data=body, headers=DS))
    assert "Too many attempts" in page.html or "Too Many Requests" in page.html


# -- refresh ---------------------------------------------------------------------------------
async def test_refresh_plain_is_auth_refresh(client: AsyncTestClient[Any], tokens: dict[str, str]) -> None:
    same_answer(await client.post(f"{U}/auth-refresh"), await client.post("/api/ds/refresh"))
    headers = {"Authorization": tokens["user1"]}
    pb = await client.post(f"{U}/auth-refresh", headers=headers)
    ds = await client.post("/api/ds/refresh", headers=headers)
    same_answer(pb, ds)
    su = {"Authorization": tokens["superuser"]}
    same_answer(
        await client.post(f"{U}/auth-refresh", headers=su), await client.post("/api/ds/refresh", headers=su)
    )


async def test_refresh_with_the_cookie(client: AsyncTestClient[Any]) -> None:
    await login_cookie(client)
    # a plain write never acts through the cookie: no Datastar header, no session
    assert (await client.post("/api/ds/refresh")).status_code == 401
    ok = DsAnswer(await client.post("/api/ds/refresh", headers=DS))
    assert ok.signals["auth"]["signedIn"] is True and ok.notice() == "Your session was renewed."
    assert "pb_auth" in set_cookies(ok.resp)
    # from another origin the cookie is not used, even with the header
    cross = DsAnswer(await client.post("/api/ds/refresh", headers={**DS, "Origin": "https://evil.test"}))
    assert cross.signals["auth"]["signedIn"] is False


# -- logout ----------------------------------------------------------------------------------
async def test_logout(client: AsyncTestClient[Any]) -> None:
    await login_cookie(client)
    resp = await client.post("/api/ds/logout")
    assert resp.status_code == 204 and resp.content == b""
    assert "Max-Age=0" in set_cookies(resp)["pb_auth"]
    assert (await client.get("/api/ds/whoami")).status_code == 401

    await login_cookie(client)
    out = DsAnswer(await client.post("/api/ds/logout", headers=DS))
    assert out.signals["auth"]["signedIn"] is False and out.notice() == "You are signed out."
    assert client.cookies.get("pb_auth") in (None, "")


async def test_logout_from_another_site_keeps_the_cookie(client: AsyncTestClient[Any]) -> None:
    await login_cookie(client)
    resp = await client.post("/api/ds/logout", headers={"Origin": "https://evil.test"})
    assert resp.status_code == 204 and "pb_auth" not in set_cookies(resp)


# -- whoami ----------------------------------------------------------------------------------
async def test_whoami(client: AsyncTestClient[Any], tokens: dict[str, str]) -> None:
    guest = await client.get("/api/ds/whoami")
    assert guest.status_code == 401 and set(guest.json()) == {"status", "message", "data"}
    signals = DsAnswer(await client.get("/api/ds/whoami", headers=DS)).signals
    assert signals["auth"]["signedIn"] is False

    by_header = await client.get("/api/ds/whoami", headers={"Authorization": tokens["user1"]})
    assert by_header.status_code == 200
    own = await client.get(f"{U}/records/{fixture_data.USER1_ID}", headers={"Authorization": tokens["user1"]})
    assert by_header.json() == {"record": own.json()}

    token = await login_cookie(client)
    assert (await client.get("/api/ds/whoami")).json()["record"]["email"] == EMAIL
    assert token not in (await client.get("/api/ds/whoami")).text
    other = await client.get("/api/ds/whoami?collection=_superusers")
    assert other.status_code == 403


# -- impersonate -----------------------------------------------------------------------------
async def test_impersonate_plain_is_impersonate(client: AsyncTestClient[Any], tokens: dict[str, str]) -> None:
    path = f"{U}/impersonate/{fixture_data.USER2_ID}"
    for headers in ({}, {"Authorization": tokens["user1"]}):
        same_answer(
            await client.post(path, headers=headers),
            await client.post(f"/api/ds/impersonate?recordId={fixture_data.USER2_ID}", headers=headers),
        )
    su = {"Authorization": tokens["superuser"]}
    pb = await client.post(path, json={"duration": 60}, headers=su)
    ds = await client.post(
        f"/api/ds/impersonate?recordId={fixture_data.USER2_ID}", json={"duration": 60}, headers=su
    )
    same_answer(pb, ds)
    same_answer(
        await client.post(f"{U}/impersonate/missing", headers=su),
        await client.post("/api/ds/impersonate", json={"recordId": "missing"}, headers=su),
    )


async def test_impersonate_datastar(client: AsyncTestClient[Any]) -> None:
    await login_cookie(client, fixture_data.SUPERUSER)
    bad = DsAnswer(
        await client.post(
            "/api/ds/impersonate?collection=_superusers",
            data={"target": "users", "recordId": "nope"},
            headers=DS,
        )
    )
    assert "No such record." in bad.fragment("impersonate-form")
    ok = DsAnswer(
        await client.post(
            "/api/ds/impersonate?collection=_superusers",
            data={"target": "users", "recordId": fixture_data.USER2_ID, "duration": "0"},
            headers=DS,
        )
    )
    assert ok.signals["auth"]["email"] == fixture_data.USER2[0] and ok.signals["auth"]["impersonated"] is True
    assert ok.scripts == ['window.location.assign("/ds/settings?collection=users")']
    who = await client.get("/api/ds/whoami")
    assert who.json()["record"]["id"] == fixture_data.USER2_ID


async def test_impersonate_datastar_needs_a_superuser(client: AsyncTestClient[Any]) -> None:
    await login_cookie(client)
    denied = DsAnswer(
        await client.post(
            "/api/ds/impersonate", data={"target": "users", "recordId": fixture_data.USER2_ID}, headers=DS
        )
    )
    assert "Only superusers can impersonate." in denied.fragment("impersonate-form")

"""/api/ds/auth-methods, /oauth-start and /auth-with-oauth2, with the loopback OAuth2 provider."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from litestar.testing import AsyncTestClient

from core.app import App
from tests.auth.oauth2_provider import Provider
from tests.auth.test_oauth2 import NEW_USER, REDIRECT, configure, sdk_login
from tests.ui.helpers import DS, DsAnswer, U, masked, same_answer, set_cookies

CALLBACK = "http://testserver.local/ds/callback"


async def test_auth_methods_plain(client: AsyncTestClient[Any], app: App, provider: Provider) -> None:
    same_answer(await client.get(f"{U}/auth-methods"), await client.get("/api/ds/auth-methods"))
    same_answer(
        await client.get("/api/collections/posts/auth-methods"),
        await client.get("/api/ds/auth-methods?collection=posts"),
    )
    await configure(app, provider, "oidc", "github")
    pb = (await client.get(f"{U}/auth-methods")).json()
    ds = (await client.get("/api/ds/auth-methods")).json()
    # state and verifier are fresh per call; everything else is the same
    for answer in (pb, ds):
        for p in answer["oauth2"]["providers"] + answer["authProviders"]:
            p["authURL"] = p["authUrl"] = "*"
    assert masked(pb) == masked(ds)


async def test_auth_methods_datastar(client: AsyncTestClient[Any], app: App, provider: Provider) -> None:
    await configure(app, provider, "oidc")
    page = DsAnswer(await client.get("/api/ds/auth-methods", headers=DS))
    methods = page.signals["authMethods"]
    assert methods == {
        "password": True,
        "otp": False,
        "mfa": False,
        "oauth2": [{"name": "oidc", "displayName": "OIDC"}],
    }
    assert "codeVerifier" not in page.text and "state" not in page.text


async def test_oauth_start(client: AsyncTestClient[Any], app: App, provider: Provider) -> None:
    unknown = await client.get("/api/ds/oauth-start?provider=oidc", follow_redirects=False)
    assert unknown.status_code == 400 and "provider" in unknown.json()["data"]
    await configure(app, provider, "oidc")
    resp = await client.get("/api/ds/oauth-start?provider=oidc&redirect=/ds/settings", follow_redirects=False)
    assert resp.status_code == 302
    location = urlparse(resp.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == provider.url + "/authorize"
    assert query["redirect_uri"] == [CALLBACK] and query["code_challenge_method"] == ["S256"]
    cookie = set_cookies(resp)["pb_oauth2"]
    assert "HttpOnly" in cookie and "Path=/api/ds/auth-with-oauth2" in cookie and "Max-Age=600" in cookie
    page = DsAnswer(await client.get("/api/ds/oauth-start?provider=oidc", headers=DS))
    assert page.scripts[0].startswith(f'window.location.assign("{provider.url}/authorize?')


async def _provider_redirect(
    client: AsyncTestClient[Any], provider: Provider, claims: dict[str, Any]
) -> dict[str, str]:
    """What the browser does: oauth-start, then the provider's consent, back with code and state."""
    provider.login(claims)
    start = await client.get(
        "/api/ds/oauth-start?provider=oidc&redirect=/ds/settings", follow_redirects=False
    )
    location = start.headers["location"]
    auth_url = location[: location.index("redirect_uri=") + len("redirect_uri=")]
    return await provider.authorize(auth_url, CALLBACK)


async def test_auth_with_oauth2_datastar(client: AsyncTestClient[Any], app: App, provider: Provider) -> None:
    await configure(app, provider, "oidc")
    back = await _provider_redirect(client, provider, NEW_USER)
    page = await client.get(f"/ds/callback?code={back['code']}&state={back['state']}")
    assert page.status_code == 200 and 'name="ds-secret-params" content="code state"' in page.text
    done = DsAnswer(await client.post("/api/ds/auth-with-oauth2", data=back, headers=DS))
    assert done.signals["auth"]["email"] == NEW_USER["email"] and done.signals["auth"]["verified"] is True
    assert done.scripts == ['window.location.assign("/ds/settings")']
    cookies = set_cookies(done.resp)
    assert "Max-Age=0" in cookies["pb_oauth2"] and "pb_auth" in cookies
    # the token request carried the verifier and the exact redirect_uri of the start
    assert provider.token_requests[-1].form["redirect_uri"] == CALLBACK
    # one attempt per start: the same answer again is refused
    again = DsAnswer(await client.post("/api/ds/auth-with-oauth2", data=back, headers=DS))
    assert "started in another window" in again.fragment("callback")


async def test_auth_with_oauth2_datastar_checks_state(
    client: AsyncTestClient[Any], app: App, provider: Provider
) -> None:
    await configure(app, provider, "oidc")
    back = await _provider_redirect(client, provider, NEW_USER)
    forged = DsAnswer(await client.post("/api/ds/auth-with-oauth2", data={**back, "state": "x"}, headers=DS))
    assert "started in another window" in forged.fragment("callback")
    assert "pb_auth" not in set_cookies(forged.resp)

    back = await _provider_redirect(client, provider, NEW_USER)
    denied = DsAnswer(
        await client.post(
            "/api/ds/auth-with-oauth2", data={"state": back["state"], "error": "access_denied"}, headers=DS
        )
    )
    assert "(access_denied)" in denied.fragment("callback")

    back = await _provider_redirect(client, provider, NEW_USER)
    bad_code = DsAnswer(
        await client.post("/api/ds/auth-with-oauth2", data={**back, "code": "bogus"}, headers=DS)
    )
    assert "The provider did not confirm the sign-in." in bad_code.fragment("callback")


async def test_auth_with_oauth2_plain(client: AsyncTestClient[Any], app: App, provider: Provider) -> None:
    await configure(app, provider, "oidc")
    for body in (
        {},
        {"provider": "nope", "code": "x", "redirectURL": REDIRECT},
        {"provider": "oidc", "code": "bad", "redirectURL": REDIRECT},
    ):
        same_answer(
            await client.post(f"{U}/auth-with-oauth2", json=body),
            await client.post("/api/ds/auth-with-oauth2", json=body),
        )
    ok = await sdk_login(client, provider, NEW_USER)
    assert ok.status_code == 200
    # the same SDK flow against /api/ds: PocketBase's answer (meta included), plus the cookie
    provider.login(NEW_USER)
    methods = (await client.get("/api/ds/auth-methods")).json()
    info = methods["oauth2"]["providers"][0]
    query = await provider.authorize(info["authURL"], REDIRECT)
    body = {
        "provider": "oidc",
        "code": query["code"],
        "codeVerifier": info["codeVerifier"],
        "redirectURL": REDIRECT,
    }
    ds = await client.post("/api/ds/auth-with-oauth2", json=body)
    assert ds.status_code == 200 and ds.json()["meta"]["isNew"] is False
    assert masked(ds.json()["record"]) == masked(ok.json()["record"])
    assert "pb_auth" in set_cookies(ds)

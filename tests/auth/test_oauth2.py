"""OAuth2 through a real provider on loopback, driven the way the JS SDK's authWithOAuth2Code is:
auth-methods -> open authURL + redirect (provider redirects with code & state) -> auth-with-oauth2.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from core.app import App
from core.store.record_view import fetch_dicts
from tests import fixture_data
from tests.auth.oauth2_provider import Provider
from tests.scenario import Scenario, run_scenario
from tests.servers import free_port

U = "/api/collections/users"
REDIRECT = "http://app.test/oauth2-redirect?x=1"
NEW_USER = {
    "sub": "sub-new",
    "email": "oscar@example.com",
    "email_verified": True,
    "name": "Oscar",
    "preferred_username": "oscar",
}


async def configure(app: App, provider: Provider, *names: str, **oauth2: Any) -> None:
    providers = [provider.config(n) for n in (names or ("oidc",))]
    await app.store.update_collection(
        "users", {"oauth2": {"enabled": True, "providers": providers, **oauth2}}
    )


async def sdk_login(
    client: Any,
    provider: Provider,
    claims: dict[str, Any],
    *,
    name: str = "oidc",
    collection: str = "users",
    headers: dict[str, str] | None = None,
    create_data: dict[str, Any] | None = None,
    verifier: str | None = None,
) -> Any:
    """authWithOAuth2Code, as the SDK's popup flow runs it, with `claims` as the provider's user."""
    provider.login(claims)
    methods = (await client.get(f"/api/collections/{collection}/auth-methods")).json()
    info = next(p for p in methods["oauth2"]["providers"] if p["name"] == name)
    query = await provider.authorize(info["authURL"], REDIRECT)
    assert query["state"] == info["state"]
    body = {
        "provider": name,
        "code": query["code"],
        "codeVerifier": info["codeVerifier"] if verifier is None else verifier,
        "redirectURL": REDIRECT,
        "createData": create_data or {},
    }
    return await client.post(
        f"/api/collections/{collection}/auth-with-oauth2", json=body, headers=headers or {}
    )


async def _links(app: App) -> list[dict[str, Any]]:
    return await app.store.db.read(
        lambda conn: fetch_dicts(conn, "SELECT * FROM _externalAuths ORDER BY created")
    )


async def test_auth_methods_lists_providers(auth_client: Any, app: App, provider: Provider) -> None:
    await configure(app, provider, "oidc", "google")
    first = (await auth_client.get(U + "/auth-methods")).json()
    second = (await auth_client.get(U + "/auth-methods")).json()
    assert first["oauth2"]["enabled"] is True
    assert [p["name"] for p in first["oauth2"]["providers"]] == ["oidc", "google"]
    oidc = first["oauth2"]["providers"][0]
    assert oidc["displayName"] == "OIDC" and first["oauth2"]["providers"][1]["displayName"] == "Google"
    assert len(oidc["state"]) == 30 and len(oidc["codeVerifier"]) == 43
    assert oidc["codeChallenge"] == create_s256_code_challenge(oidc["codeVerifier"])
    assert oidc["codeChallengeMethod"] == "S256"
    assert oidc["authURL"].startswith(provider.url + "/authorize?") and oidc["authURL"].endswith(
        "&redirect_uri="
    )
    query = parse_qs(urlparse(oidc["authURL"]).query, keep_blank_values=True)
    assert query == {
        "client_id": [provider.client_id],
        "code_challenge": [oidc["codeChallenge"]],
        "code_challenge_method": ["S256"],
        "response_type": ["code"],
        "scope": ["openid email profile"],
        "state": [oidc["state"]],
        "redirect_uri": [""],
    }
    # fresh values on every call
    again = second["oauth2"]["providers"][0]
    assert again["state"] != oidc["state"] and again["codeVerifier"] != oidc["codeVerifier"]
    assert "clientSecret" not in str(first)


async def test_signup_then_login(auth_client: Any, app: App, provider: Provider) -> None:
    await configure(app, provider)
    resp = await sdk_login(auth_client, provider, NEW_USER)
    assert resp.status_code == 200, resp.text
    data = resp.json()
    record, meta = data["record"], data["meta"]
    assert record["email"] == "oscar@example.com" and record["verified"] is True
    assert record["name"] == "Oscar"  # users maps `name` by default
    assert meta["isNew"] is True
    assert set(meta) == {
        "id",
        "name",
        "username",
        "email",
        "avatarURL",
        "avatarUrl",
        "accessToken",
        "refreshToken",
        "expiry",
        "rawUser",
        "isNew",
    }
    assert meta["id"] == "sub-new" and meta["username"] == "oscar" and meta["rawUser"]["sub"] == "sub-new"
    assert meta["accessToken"] and meta["refreshToken"] and meta["expiry"].endswith("Z")
    (link,) = await _links(app)
    assert (link["provider"], link["providerId"], link["recordRef"]) == ("oidc", "sub-new", record["id"])
    # the token request: HTTP Basic client auth, the PKCE verifier and the exact redirect URL
    sent = provider.token_requests[-1]
    assert sent.basic_client == provider.client_id and sent.status == 200
    assert sent.form["redirect_uri"] == REDIRECT and sent.form["code_verifier"]
    assert sent.form["grant_type"] == "authorization_code"

    again = await sdk_login(auth_client, provider, NEW_USER)
    assert again.status_code == 200
    assert again.json()["meta"]["isNew"] is False and again.json()["record"]["id"] == record["id"]
    assert len(await _links(app)) == 1


ERRORS = [
    Scenario(
        "oauth2 disabled",
        "POST",
        U + "/auth-with-oauth2",
        403,
        body={"provider": "oidc", "code": "x", "redirectURL": REDIRECT},
        contains=['"message":"The collection is not configured to allow OAuth2 authentication."'],
    ),
]

ENABLED_ERRORS = [
    Scenario(
        "unknown provider",
        "POST",
        U + "/auth-with-oauth2",
        400,
        body={"provider": "nope", "code": "x", "redirectURL": REDIRECT},
        contains=[
            '"provider":{"code":"validation_invalid_provider",'
            '"message":"Provider with name nope is missing or is not enabled.","params":{"name":"nope"}}'
        ],
    ),
    Scenario(
        "blank fields",
        "POST",
        U + "/auth-with-oauth2",
        400,
        body={},
        contains=['"code":{"code":"validation_required"', '"provider":{"code":"validation_required"'],
    ),
    Scenario(
        "bad code",
        "POST",
        U + "/auth-with-oauth2",
        400,
        body={"provider": "oidc", "code": "not-a-code", "codeVerifier": "v", "redirectURL": REDIRECT},
        contains=['"message":"Failed to fetch OAuth2 token."'],
    ),
    Scenario(
        "createData not an object",
        "POST",
        U + "/auth-with-oauth2",
        400,
        body={"provider": "oidc", "code": "x", "redirectURL": REDIRECT, "createData": [1]},
        contains=['"message":"An error occurred while loading the submitted data."'],
    ),
]


@pytest.mark.parametrize("s", ERRORS, ids=str)
async def test_oauth2_disabled(auth_client: Any, app: App, tokens: dict[str, str], s: Scenario) -> None:
    await run_scenario(auth_client, app, tokens, s)


@pytest.mark.parametrize("s", ENABLED_ERRORS, ids=str)
async def test_oauth2_errors(
    auth_client: Any, app: App, tokens: dict[str, str], provider: Provider, s: Scenario
) -> None:
    await configure(app, provider)
    await run_scenario(auth_client, app, tokens, s)


async def test_exchange_failures_are_400(auth_client: Any, app: App, provider: Provider) -> None:
    await configure(app, provider)
    resp = await sdk_login(auth_client, provider, NEW_USER, verifier="wrong-verifier")
    assert resp.status_code == 400 and resp.json()["message"] == "Failed to fetch OAuth2 token."
    assert provider.token_requests[-1].status == 400  # the provider refused the PKCE check

    provider.userinfo_status = 500
    try:
        resp = await sdk_login(auth_client, provider, NEW_USER)
    finally:
        provider.userinfo_status = 200
    assert resp.status_code == 400 and resp.json()["message"] == "Failed to fetch OAuth2 user."

    broken = provider.config("oidc", tokenURL=f"http://127.0.0.1:{free_port()}/token")
    await app.store.update_collection("users", {"oauth2": {"providers": [broken]}})
    resp = await sdk_login(auth_client, provider, NEW_USER)
    assert resp.status_code == 400 and resp.json()["message"] == "Failed to fetch OAuth2 token."
    assert await _links(app) == []


async def test_links_an_unverified_account_and_replaces_its_password(
    auth_client: Any, app: App, provider: Provider
) -> None:
    await configure(app, provider)
    email, password = fixture_data.USER2  # not verified
    claims = {"sub": "sub-2", "email": email, "email_verified": True, "name": "Someone"}
    resp = await sdk_login(auth_client, provider, claims, create_data={"name": "ignored"})
    assert resp.status_code == 200
    record = resp.json()["record"]
    assert record["id"] == fixture_data.USER2_ID and record["verified"] is True
    assert record["name"] == "User Two" and resp.json()["meta"]["isNew"] is False
    login = await auth_client.post(U + "/auth-with-password", json={"identity": email, "password": password})
    assert login.status_code == 400  # whoever registered the address first is locked out


async def test_links_a_verified_account_and_keeps_its_password(
    auth_client: Any, app: App, provider: Provider
) -> None:
    await configure(app, provider)
    email, password = fixture_data.USER1
    resp = await sdk_login(auth_client, provider, {"sub": "sub-1", "email": email, "email_verified": True})
    assert resp.status_code == 200 and resp.json()["record"]["id"] == fixture_data.USER1_ID
    login = await auth_client.post(U + "/auth-with-password", json={"identity": email, "password": password})
    assert login.status_code == 200


async def test_logged_in_caller_links_the_identity_to_itself(
    auth_client: Any, app: App, tokens: dict[str, str], provider: Provider
) -> None:
    await configure(app, provider)
    claims = {"sub": "sub-x", "email": "elsewhere@example.com", "email_verified": True}
    resp = await sdk_login(auth_client, provider, claims, headers={"Authorization": tokens["user2"]})
    assert resp.status_code == 200
    record = resp.json()["record"]
    assert record["id"] == fixture_data.USER2_ID and record["email"] == fixture_data.USER2[0]
    assert record["verified"] is False  # the provider's email is another one
    (link,) = await _links(app)
    assert link["recordRef"] == fixture_data.USER2_ID
    # the caller's password is untouched
    login = {"identity": fixture_data.USER2[0], "password": fixture_data.USER2[1]}
    assert (await auth_client.post(U + "/auth-with-password", json=login)).status_code == 200


async def test_unverified_provider_email_is_ignored(auth_client: Any, app: App, provider: Provider) -> None:
    await configure(app, provider)
    claims = {"sub": "sub-nv", "email": fixture_data.USER1[0], "email_verified": False}
    resp = await sdk_login(auth_client, provider, claims)
    # not linked to user1; the signup has no email, which users requires
    assert resp.status_code == 400
    assert resp.json()["message"] == "Failed to create record."
    assert resp.json()["data"]["email"]["code"] == "validation_required"
    assert await _links(app) == []


async def test_create_data_mapped_fields_and_avatar(auth_client: Any, app: App, provider: Provider) -> None:
    await configure(app, provider)
    claims = {**NEW_USER, "picture": f"{provider.url}/avatar.png"}
    resp = await sdk_login(
        auth_client, provider, claims, create_data={"name": "Custom", "emailVisibility": True}
    )
    assert resp.status_code == 200, resp.text
    record = resp.json()["record"]
    assert record["name"] == "Custom" and record["emailVisibility"] is True
    assert record["avatar"].endswith(".png")  # downloaded into the mapped file field
    users = app.store.find("users")
    assert users is not None
    assert app.store.storage.exists(users.id, record["id"], record["avatar"])


async def test_create_rule_applies_to_signups(auth_client: Any, app: App, provider: Provider) -> None:
    await configure(app, provider)
    await app.store.update_collection("users", {"createRule": "@request.context != 'oauth2'"})
    resp = await sdk_login(auth_client, provider, NEW_USER)
    assert resp.status_code == 400 and resp.json()["message"] == "Failed to create record."
    await app.store.update_collection("users", {"createRule": None})
    resp = await sdk_login(auth_client, provider, NEW_USER)
    assert resp.status_code == 403
    assert await _links(app) == []


async def test_superusers_cannot_sign_up(auth_client: Any, app: App, provider: Provider) -> None:
    await app.store.update_collection(
        "_superusers", {"oauth2": {"enabled": True, "providers": [provider.config("oidc")]}}
    )
    resp = await sdk_login(auth_client, provider, NEW_USER, collection="_superusers")
    assert resp.status_code == 400
    claims = {"sub": "su", "email": fixture_data.SUPERUSER[0], "email_verified": True}
    resp = await sdk_login(auth_client, provider, claims, collection="_superusers")
    assert resp.status_code == 200  # an existing superuser may link and log in


PROVIDER_CLAIMS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "google": (
        {
            "sub": "g-1",
            "email": "g@example.com",
            "email_verified": True,
            "name": "Gee",
            "picture": "http://p/g",
        },
        {"id": "g-1", "email": "g@example.com", "name": "Gee", "avatarURL": "http://p/g", "username": ""},
    ),
    "github": (
        {
            "id": 4242,
            "login": "octo",
            "name": "Octo Cat",
            "email": None,
            "avatar_url": "http://p/o",
            "emails": [
                {"email": "other@example.com", "verified": True, "primary": False},
                {"email": "octo@example.com", "verified": True, "primary": True},
            ],
        },
        {
            "id": "4242",
            "email": "octo@example.com",
            "name": "Octo Cat",
            "username": "octo",
            "avatarURL": "http://p/o",
        },
    ),
    "microsoft": (
        {"id": "ms-1", "displayName": "Ms Person", "mail": "ms@example.com"},
        {"id": "ms-1", "email": "ms@example.com", "name": "Ms Person", "username": "", "avatarURL": ""},
    ),
    "apple": (
        {"sub": "apple-1", "email": "a@privaterelay.example.com", "email_verified": "true"},
        {"id": "apple-1", "email": "a@privaterelay.example.com", "name": "", "username": "", "avatarURL": ""},
    ),
}


@pytest.mark.parametrize("name", list(PROVIDER_CLAIMS))
async def test_providers(auth_client: Any, app: App, provider: Provider, name: str) -> None:
    claims, expected = PROVIDER_CLAIMS[name]
    await configure(app, provider, name)
    resp = await sdk_login(auth_client, provider, claims, name=name)
    assert resp.status_code == 200, resp.text
    meta = resp.json()["meta"]
    assert {k: meta[k] for k in expected} == expected
    assert resp.json()["record"]["email"] == expected["email"]
    if name == "apple":
        methods = (await auth_client.get(U + "/auth-methods")).json()
        assert "response_mode=form_post" in methods["oauth2"]["providers"][0]["authURL"]


async def test_apple_rejects_an_id_token_it_cannot_verify(
    auth_client: Any, app: App, provider: Provider
) -> None:
    # keys from elsewhere: the signature check fails, so the user cannot be read
    wrong_keys = provider.config("apple", extra={"jwksURL": f"{provider.url}/nowhere"})
    await app.store.update_collection("users", {"oauth2": {"enabled": True, "providers": [wrong_keys]}})
    resp = await sdk_login(auth_client, provider, PROVIDER_CLAIMS["apple"][0], name="apple")
    assert resp.status_code == 400 and resp.json()["message"] == "Failed to fetch OAuth2 user."


async def test_oidc_from_the_id_token(auth_client: Any, app: App, provider: Provider) -> None:
    config = provider.config(
        "oidc",
        userInfoURL="",
        extra={"jwksURL": f"{provider.url}/keys", "issuers": ["https://appleid.apple.com"]},
    )
    await app.store.update_collection("users", {"oauth2": {"enabled": True, "providers": [config]}})
    resp = await sdk_login(auth_client, provider, NEW_USER)
    assert resp.status_code == 200 and resp.json()["meta"]["email"] == NEW_USER["email"]
    config["extra"]["issuers"] = ["https://issuer.example.com"]
    await app.store.update_collection("users", {"oauth2": {"providers": [config]}})
    resp = await sdk_login(auth_client, provider, NEW_USER)
    assert resp.status_code == 400


async def test_env_configured_provider(auth_client: Any, app: App, provider: Provider) -> None:
    # the stored entry only says where GitHub is (our loopback provider); the env brings the
    # credentials and turns OAuth2 on for `users`
    endpoints = provider.config("github", clientId="", clientSecret="")
    await app.store.update_collection("users", {"oauth2": {"enabled": False, "providers": [endpoints]}})
    methods = (await auth_client.get(U + "/auth-methods")).json()
    assert methods["oauth2"] == {"enabled": False, "providers": []}
    app.settings.env = {
        "CORE_POCKETBASE_GITHUB_CLIENT_ID": provider.client_id,
        "CORE_POCKETBASE_GITHUB_CLIENT_SECRET": provider.client_secret,
    }
    methods = (await auth_client.get(U + "/auth-methods")).json()
    assert methods["oauth2"]["enabled"] is True
    assert [p["name"] for p in methods["oauth2"]["providers"]] == ["github"]
    claims, expected = PROVIDER_CLAIMS["github"]
    resp = await sdk_login(auth_client, provider, claims, name="github")
    assert resp.status_code == 200 and resp.json()["meta"]["id"] == expected["id"]
    # other auth collections are not affected
    su = (await auth_client.get("/api/collections/_superusers/auth-methods")).json()
    assert su["oauth2"]["enabled"] is False


async def test_deleting_the_record_removes_its_links(auth_client: Any, app: App, provider: Provider) -> None:
    await configure(app, provider)
    resp = await sdk_login(auth_client, provider, NEW_USER)
    assert len(await _links(app)) == 1
    users = app.store.find("users")
    assert users is not None
    await app.store.delete_record(users, resp.json()["record"]["id"], app.auth.system_context())
    assert await _links(app) == []
    # the identity signs up afresh
    again = await sdk_login(auth_client, provider, NEW_USER)
    assert again.status_code == 200 and again.json()["meta"]["isNew"] is True


async def test_linking_an_unverified_account_drops_the_links_made_before(
    auth_client: Any, app: App, provider: Provider
) -> None:
    """Issue 12 item 6: someone signs up through their own provider account with the victim's
    address (unverified); when the victim logs in through a provider with that address, the
    earlier link must not keep leading into the account."""
    await configure(app, provider, "oidc", "oidc2")
    victim = "victim@example.com"
    attacker = {"sub": "sub-attacker", "email": "attacker@example.com", "email_verified": True}
    planted = await sdk_login(auth_client, provider, attacker, name="oidc2", create_data={"email": victim})
    record_id = planted.json()["record"]["id"]
    assert planted.json()["record"]["verified"] is False
    planted_token = planted.json()["token"]

    claims = {"sub": "sub-victim", "email": victim, "email_verified": True}
    login = await sdk_login(auth_client, provider, claims)
    assert login.status_code == 200 and login.json()["record"]["id"] == record_id
    assert [(x["provider"], x["providerId"]) for x in await _links(app)] == [("oidc", "sub-victim")]
    # the attacker's session is over and their provider account leads elsewhere
    me = await auth_client.post(U + "/auth-refresh", headers={"Authorization": planted_token})
    assert me.status_code == 401
    again = await sdk_login(auth_client, provider, attacker, name="oidc2")
    assert again.status_code == 200 and again.json()["record"]["id"] != record_id


async def test_a_signed_in_unverified_record_keeps_only_the_new_link(
    auth_client: Any, app: App, tokens: dict[str, str], provider: Provider
) -> None:
    await configure(app, provider, "oidc", "oidc2")
    headers = {"Authorization": tokens["user2"]}  # user2 is not verified
    for name, sub in (("oidc2", "sub-a"), ("oidc", "sub-b")):
        claims = {"sub": sub, "email": "other@example.com", "email_verified": True}
        resp = await sdk_login(auth_client, provider, claims, name=name, headers=headers)
        assert resp.status_code == 200 and resp.json()["record"]["id"] == fixture_data.USER2_ID
    assert [x["provider"] for x in await _links(app)] == ["oidc"]
    # signed in as the record: its password stays
    login = {"identity": fixture_data.USER2[0], "password": fixture_data.USER2[1]}
    assert (await auth_client.post(U + "/auth-with-password", json=login)).status_code == 200


async def test_any_verified_upgrade_drops_links_and_their_tokens(
    auth_client: Any, app: App, provider: Provider
) -> None:
    await configure(app, provider, "oidc2")
    attacker = {"sub": "sub-attacker", "email": "attacker@example.com", "email_verified": True}
    planted = await sdk_login(
        auth_client, provider, attacker, name="oidc2", create_data={"email": "victim@example.com"}
    )
    record_id = planted.json()["record"]["id"]
    users = app.store.find("users")
    assert users is not None
    await app.store.update_record(users, record_id, {"verified": True}, app.auth.system_context())
    assert await _links(app) == []
    me = await auth_client.post(U + "/auth-refresh", headers={"Authorization": planted.json()["token"]})
    assert me.status_code == 401

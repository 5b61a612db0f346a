from __future__ import annotations

import jwt
import pytest

from tests.scenario import Scenario, run_scenario

U = "/api/collections/users"
LOGIN = {"identity": "user1@example.com", "password": "password-user1"}

SCENARIOS = [
    Scenario(
        "auth methods",
        "GET",
        U + "/auth-methods",
        200,
        contains=[
            '"password":{"enabled":true,"identityFields":["email"]}',
            '"oauth2":{"enabled":false,"providers":[]}',
            '"mfa":{"enabled":false,"duration":0}',
            '"otp":{"enabled":false,"duration":0}',
        ],
    ),
    Scenario(
        "auth methods of base collection",
        "GET",
        "/api/collections/posts/auth-methods",
        404,
        contains=['"message":"Missing or invalid auth collection context."'],
    ),
    Scenario(
        "login",
        "POST",
        U + "/auth-with-password",
        200,
        body=LOGIN,
        contains=['"token":"', '"email":"user1@example.com"', '"id":"user1aaaaaaaaaa"'],
        not_contains=['"password"', '"tokenKey"'],
    ),
    Scenario(
        "login case-insensitive email",
        "POST",
        U + "/auth-with-password",
        200,
        body={**LOGIN, "identity": "USER1@example.com"},
    ),
    Scenario(
        "login wrong password",
        "POST",
        U + "/auth-with-password",
        400,
        body={**LOGIN, "password": "nope"},
        contains=['"message":"Failed to authenticate."'],
    ),
    Scenario(
        "login unknown user",
        "POST",
        U + "/auth-with-password",
        400,
        body={"identity": "x@example.com", "password": "nope"},
    ),
    Scenario(
        "login missing fields",
        "POST",
        U + "/auth-with-password",
        400,
        body={},
        contains=['"identity":{"code":"validation_required"', '"password":{"code":"validation_required"'],
    ),
    Scenario(
        "login bad identity field",
        "POST",
        U + "/auth-with-password",
        400,
        body={**LOGIN, "identityField": "name"},
    ),
    Scenario(
        "login on base collection", "POST", "/api/collections/posts/auth-with-password", 404, body=LOGIN
    ),
    Scenario(
        "superuser login",
        "POST",
        "/api/collections/_superusers/auth-with-password",
        200,
        body={"identity": "admin@example.com", "password": "password123456"},
        contains=['"collectionName":"_superusers"'],
    ),
    Scenario(
        "refresh",
        "POST",
        U + "/auth-refresh",
        200,
        auth="user1",
        contains=['"token":"', '"id":"user1aaaaaaaaaa"'],
    ),
    Scenario("refresh guest", "POST", U + "/auth-refresh", 401),
    Scenario("refresh other collection", "POST", U + "/auth-refresh", 403, auth="superuser"),
    Scenario("refresh garbage token", "POST", U + "/auth-refresh", 401, auth="garbage"),
    Scenario(
        "impersonate",
        "POST",
        U + "/impersonate/user2bbbbbbbbbb",
        200,
        auth="superuser",
        body={"duration": 100},
        contains=['"id":"user2bbbbbbbbbb"', '"token":"'],
    ),
    Scenario("impersonate as user", "POST", U + "/impersonate/user2bbbbbbbbbb", 403, auth="user1", body={}),
    Scenario("impersonate missing", "POST", U + "/impersonate/nope", 404, auth="superuser", body={}),
    Scenario(
        "impersonate bad duration",
        "POST",
        U + "/impersonate/user2bbbbbbbbbb",
        400,
        auth="superuser",
        body={"duration": -5},
    ),
]


@pytest.mark.parametrize("s", SCENARIOS, ids=str)
async def test_record_auth(client, app, tokens, s: Scenario) -> None:
    await run_scenario(client, app, tokens, s)


async def test_token_claims(client) -> None:
    resp = await client.post(U + "/auth-with-password", json=LOGIN)
    claims = jwt.decode(resp.json()["token"], options={"verify_signature": False})
    assert claims["type"] == "auth" and claims["id"] == "user1aaaaaaaaaa"
    assert claims["collectionId"] == "_pb_users_auth_" and claims["refreshable"] is True
    assert claims["exp"] - __import__("time").time() > 432000 - 60


async def test_impersonation_token_is_not_refreshed(client, tokens) -> None:
    resp = await client.post(
        U + "/impersonate/user2bbbbbbbbbb", headers={"Authorization": tokens["superuser"]}, json={}
    )
    token = resp.json()["token"]
    assert jwt.decode(token, options={"verify_signature": False})["refreshable"] is False
    again = await client.post(U + "/auth-refresh", headers={"Authorization": token})
    assert again.status_code == 200 and again.json()["token"] == token


async def test_tampered_token_is_guest(client, tokens) -> None:
    header, payload, sig = tokens["user1"].split(".")
    forged = jwt.encode(
        {**jwt.decode(tokens["user1"], options={"verify_signature": False})}, "wrong-key", algorithm="HS256"
    )
    for bad in (forged, f"{header}.{payload}.AAAA"):
        resp = await client.get("/api/collections/users/records", headers={"Authorization": bad})
        assert resp.status_code == 200 and resp.json()["totalItems"] == 0


async def test_bearer_prefix_accepted(client, tokens) -> None:
    resp = await client.get(
        "/api/collections/users/records", headers={"Authorization": "Bearer " + tokens["user1"]}
    )
    assert resp.json()["totalItems"] == 1

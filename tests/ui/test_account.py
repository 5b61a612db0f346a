"""PATCH|POST /api/ds/update-profile and DELETE /api/ds/account in both modes."""

from __future__ import annotations

import base64
from typing import Any

from litestar.testing import AsyncTestClient

from tests import fixture_data
from tests.ui.conftest import login_cookie
from tests.ui.helpers import DS, DsAnswer, U, same_answer, set_cookies

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
USER1 = f"{U}/records/{fixture_data.USER1_ID}"


async def test_update_profile_plain_is_update(client: AsyncTestClient[Any], tokens: dict[str, str]) -> None:
    headers = {"Authorization": tokens["user1"]}
    for method in ("PATCH", "POST"):
        body = {"name": f"Renamed by {method}"}
        pb = await client.patch(USER1, json=body, headers=headers)
        ds = await client.request(method, "/api/ds/update-profile?fields=id,name", json=body, headers=headers)
        assert ds.status_code == 200 and ds.json() == {"id": fixture_data.USER1_ID, "name": body["name"]}
        assert pb.json()["name"] == body["name"]
    bad = {"name": "x" * 300}
    same_answer(
        await client.patch(USER1, json=bad, headers=headers),
        await client.patch("/api/ds/update-profile", json=bad, headers=headers),
    )
    guest = await client.patch("/api/ds/update-profile", json=bad)
    assert guest.status_code == 401 and set(guest.json()) == {"status", "message", "data"}


async def test_update_profile_datastar(client: AsyncTestClient[Any]) -> None:
    await login_cookie(client)
    bad = DsAnswer(await client.patch("/api/ds/update-profile", data={"name": "x" * 300}, headers=DS))
    form = bad.fragment("profile-form")
    assert 'id="profile-form-name-error"' in form and 'aria-invalid="true"' in form
    ok = DsAnswer(
        await client.patch(
            "/api/ds/update-profile",
            data={"name": "  Ada  ", "emailVisibility": "true"},
            files={"avatar": ("me.png", PNG, "image/png")},
            headers=DS,
        )
    )
    assert ok.signals["auth"]["name"] == "Ada" and ok.notice() == "Your profile is saved."
    body = ok.fragment("settings-body")
    assert 'value="Ada"' in body and "checked" in body and 'class="avatar"' in body
    record = (await client.get("/api/ds/whoami")).json()["record"]
    assert record["emailVisibility"] is True and record["avatar"].startswith("me"), record
    # an unticked box is false, an empty file input keeps the file
    again = DsAnswer(
        await client.post(
            "/api/ds/update-profile", data={"name": "Ada"}, files={"avatar": ("", b"", "")}, headers=DS
        )
    )
    assert again.signals["auth"]["name"] == "Ada"
    record = (await client.get("/api/ds/whoami")).json()["record"]
    assert record["emailVisibility"] is False and record["avatar"].startswith("me"), record


async def test_update_profile_refuses_cross_site_cookie_writes(client: AsyncTestClient[Any]) -> None:
    await login_cookie(client)
    # no Datastar header: the cookie does not authenticate a write
    assert (await client.patch("/api/ds/update-profile", json={"name": "csrf"})).status_code == 401
    cross = DsAnswer(
        await client.patch(
            "/api/ds/update-profile", data={"name": "csrf"}, headers={**DS, "Origin": "https://evil.test"}
        )
    )
    assert cross.notice() == "Please sign in again."
    assert (await client.get("/api/ds/whoami")).json()["record"]["name"] == "User One"


async def test_delete_account_plain_is_delete(client: AsyncTestClient[Any], tokens: dict[str, str]) -> None:
    assert (await client.delete("/api/ds/account")).status_code == 401
    headers = {"Authorization": tokens["user2"]}
    resp = await client.delete("/api/ds/account", headers=headers)
    assert resp.status_code == 204 and resp.content == b""
    assert (
        await client.get(
            f"{U}/records/{fixture_data.USER2_ID}", headers={"Authorization": tokens["superuser"]}
        )
    ).status_code == 404
    # the token died with its record: a guest, and a guest has no own record to address
    assert (await client.delete("/api/ds/account", headers=headers)).status_code == 401


async def test_delete_account_datastar(client: AsyncTestClient[Any]) -> None:
    await login_cookie(client, fixture_data.USER2)
    unconfirmed = DsAnswer(await client.delete("/api/ds/account", headers=DS))
    assert 'id="delete-form-confirm-error">Tick the box to confirm.' in unconfirmed.fragment("delete-form")
    gone = DsAnswer(await client.request("DELETE", "/api/ds/account", data={"confirm": "yes"}, headers=DS))
    assert gone.signals["auth"]["signedIn"] is False
    assert gone.scripts == ['window.location.assign("/ds?collection=users&bye=1")']
    assert "Max-Age=0" in set_cookies(gone.resp)["pb_auth"]
    login = await client.post(
        "/api/ds/login", json={"identity": fixture_data.USER2[0], "password": fixture_data.USER2[1]}
    )
    assert login.status_code == 400

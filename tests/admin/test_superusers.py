"""The Superusers screen: in-process endpoint checks, and the whole screen in Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.app import App
from tests.admin.conftest import AdminServer, shot, submit
from tests.admin.test_session import DS, sign_in
from tests.scenario import Scenario, run_scenario
from tests.servers import start_core, start_pocketbase, superuser_client

ONLY = "You can't delete the only existing superuser."


async def test_the_api_never_deletes_the_only_superuser(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str]
) -> None:
    # PocketBase 0.40.6 answers exactly this (checked against the binary)
    h = {"Authorization": tokens["superuser"]}
    listed = (await client.get("/api/collections/_superusers/records", headers=h)).json()
    assert listed["totalItems"] == 1
    rid = listed["items"][0]["id"]
    scenario = Scenario(
        "delete the only superuser",
        "DELETE",
        f"/api/collections/_superusers/records/{rid}",
        status=400,
        auth="superuser",
        contains=[f'"message":"{ONLY}"', '"data":{}'],
    )
    await run_scenario(client, app, tokens, scenario)
    assert (await client.get("/api/collections/_superusers/records", headers=h)).json()["totalItems"] == 1


async def test_create_shows_pocketbase_errors_next_to_the_fields(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    headers = {**DS, "Origin": str(client.base_url)}
    body = {"email": "not-an-email", "password": "short", "passwordConfirm": "other"}
    resp = await client.post("/_/api/superusers", data=body, headers=headers)
    assert resp.status_code == 200
    assert 'id="superuser-create-email-error"' in resp.text
    assert 'id="superuser-create-password-error"' in resp.text
    assert 'id="superuser-create-passwordConfirm-error"' in resp.text


@pytest.mark.slow
def test_pocketbase_and_core_refuse_to_delete_the_only_superuser_alike(tmp_path: Path) -> None:
    answers = []
    for start in (start_pocketbase, start_core):
        with start(tmp_path / start.__name__) as server:
            api = superuser_client(server)
            only = api.get("/api/collections/_superusers/records").json()["items"]
            assert len(only) == 1
            resp = api.delete(f"/api/collections/_superusers/records/{only[0]['id']}")
            answers.append((resp.status_code, resp.json()))
            api.close()
    assert answers[0] == answers[1] == (400, {"data": {}, "message": ONLY, "status": 400})


@pytest.mark.slow
def test_superusers_screen(admin_page: Any, admin_server: AdminServer) -> None:
    from playwright.sync_api import expect

    page = admin_page
    api = admin_server.api
    page.goto("/_/superusers")
    shot(page, "superusers")
    page.fill("#superuser-create-email", "second@example.com")
    page.fill("#superuser-create-password", "second-password-1")
    page.fill("#superuser-create-passwordConfirm", "second-password-1")
    submit(page, "superuser-create")
    expect(page.locator("#notice")).to_have_text("Superuser second@example.com created.")
    found = api.get(
        "/api/collections/_superusers/records", params={"filter": "email='second@example.com'"}
    ).json()
    assert found["totalItems"] == 1
    rid = found["items"][0]["id"]
    # the pager and the column headers morph the table in place (server-side paging)
    page.goto("/_/superusers?perPage=1&sort=email")
    expect(page.locator("#superusers-table tbody tr")).to_have_count(1)
    expect(page.locator("#superusers-table tbody")).to_contain_text("admin@example.com")
    page.locator("#superusers-table a[rel=next]").click()
    expect(page.locator("#superusers-table tbody")).to_contain_text("second@example.com")
    assert page.url.endswith("/_/superusers?perPage=1&sort=email")  # no page load happened
    page.locator("#superusers-table th a", has_text="Email").click()
    expect(page.locator("#superusers-table th[aria-sort=descending]")).to_contain_text("Email")
    expect(page.locator("#superusers-table tbody")).to_contain_text("second@example.com")
    page.goto("/_/superusers")
    row = page.locator(f"#superuser-{rid}")
    row.locator("summary").click()
    page.fill(f"#password-{rid}-password", "changed-password-2")
    page.fill(f"#password-{rid}-passwordConfirm", "changed-password-2")
    submit(page, f"password-{rid}")
    expect(page.locator("#notice")).to_have_text("Password of second@example.com changed.")
    login = api.post(
        "/api/collections/_superusers/auth-with-password",
        json={"identity": "second@example.com", "password": "changed-password-2"},
        headers={"Authorization": ""},
    )
    assert login.status_code == 200
    shot(page, "superusers-changed")
    page.once("dialog", lambda d: d.accept())
    page.click(f"#delete-{rid}")
    expect(page.locator(f"#superuser-{rid}")).to_have_count(0)
    assert api.get(f"/api/collections/_superusers/records/{rid}").status_code == 404
    # the last one stays: the screen says what PocketBase says
    me = api.get("/api/collections/_superusers/records").json()["items"]
    assert len(me) == 1
    page.once("dialog", lambda d: d.accept())
    page.click(f"#delete-{me[0]['id']}")
    expect(page.locator("#notice")).to_have_text(ONLY)
    assert api.get("/api/collections/_superusers/records").json()["totalItems"] == 1

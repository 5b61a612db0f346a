"""The Crons screen in Chromium: the API's job list, and "Run now" of the auto-backup job,
confirmed by the backup it makes appearing in /api/backups."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.admin.conftest import AdminServer, shot


async def test_an_unknown_job_is_pocketbases_404_message(client: Any) -> None:
    from tests.admin.test_session import DS, sign_in

    await sign_in(client)
    resp = await client.post("/_/api/crons/nope", headers={**DS, "Origin": str(client.base_url)})
    assert "Missing or invalid cron job." in resp.text


@pytest.mark.slow
def test_crons_screen_runs_a_job_now(admin_page: Any, admin_server: AdminServer) -> None:
    from playwright.sync_api import expect

    api = admin_server.api
    assert (
        api.patch("/api/settings", json={"backups": {"cron": "0 3 * * *", "cronMaxKeep": 5}}).status_code
        == 200
    )
    before = {b["key"] for b in api.get("/api/backups").json()}
    try:
        page = admin_page
        page.goto("/_/crons")
        jobs = [j["id"] for j in api.get("/api/crons").json()]
        expect(page.locator("#crons-table tbody tr")).to_have_count(len(jobs))
        row = page.locator("tr[data-id='__pbAutoBackup__']")
        expect(row).to_contain_text("0 3 * * *")
        shot(page, "crons")
        row.locator("button").click()
        expect(page.locator("#notice")).to_have_text("Cron job __pbAutoBackup__ started.")
        deadline = time.monotonic() + 30
        while not ({b["key"] for b in api.get("/api/backups").json()} - before):
            assert time.monotonic() < deadline, "the auto backup never appeared"
            time.sleep(0.1)
        made = {b["key"] for b in api.get("/api/backups").json()} - before
        assert all(k.startswith("@auto_pb_backup_") for k in made), made
        for key in made:
            api.delete(f"/api/backups/{key}")
    finally:
        api.patch("/api/settings", json={"backups": {"cron": ""}})

"""The Backups screen: create (with its progress), download, upload, restore and delete in
Chromium against a real `core serve`, each confirmed through /api/backups; the guard cases
in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.app import App
from tests.admin.conftest import AdminServer, shot, submit
from tests.admin.test_session import DS, sign_in

S3_BLANKS = {f"backups.s3.{k}": "" for k in ("endpoint", "bucket", "region", "accessKey")}


async def test_restore_needs_the_typed_name(client: AsyncTestClient[Any], app: App) -> None:
    await sign_in(client)
    headers = {**DS, "Origin": str(client.base_url)}
    created = await client.post("/_/api/backups", data={"name": "one.zip"}, headers=headers)
    assert "Creating a backup" in created.text and "Backup created." in created.text
    refused = await client.post(
        "/_/api/backups/one.zip/restore", data={"confirm": "two.zip"}, headers=headers
    )
    assert "Type the backup&#39;s name" in refused.text or "Type the backup's name" in refused.text


async def test_download_needs_the_session(client: AsyncTestClient[Any]) -> None:
    resp = await client.get("/_/api/backups/x.zip/download")
    assert resp.status_code == 401


async def test_the_backups_tab_saves_cron_and_max_keep(client: AsyncTestClient[Any], app: App) -> None:
    await sign_in(client)
    headers = {**DS, "Origin": str(client.base_url)}
    bad = await client.post(
        "/_/api/settings/backups",
        data={**S3_BLANKS, "backups.cron": "not a cron", "backups.cronMaxKeep": "2"},
        headers=headers,
    )
    assert 'id="settings-backups-backups-cron-error"' in bad.text
    ok = await client.post(
        "/_/api/settings/backups",
        data={
            **S3_BLANKS,
            "backups.cron": "0 0 * * *",
            "backups.cronMaxKeep": "2",
            "backups.s3.bucket": "bk",
        },
        headers=headers,
    )
    assert "Settings saved." in ok.text
    assert app.store.settings.get()["backups"] == {
        **app.store.settings.get()["backups"],
        "cron": "0 0 * * *",
        "cronMaxKeep": 2,
        "s3": {**app.store.settings.get()["backups"]["s3"], "bucket": "bk", "enabled": False},
    }


@pytest.mark.slow
def test_backups_screen(admin_page: Any, admin_server: AdminServer, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = admin_page
    api = admin_server.api
    page.goto("/_/backups")
    shot(page, "backups")
    page.fill("#backup-create-name", "screen.zip")
    submit(page, "backup-create")
    expect(page.locator("#notice")).to_have_text("Backup created.")
    assert "screen.zip" in [b["key"] for b in api.get("/api/backups").json()]
    row = page.locator("tr[data-key='screen.zip']")
    expect(row).to_be_visible()
    shot(page, "backups-created")
    # download: the very archive the API lists
    with page.expect_download() as info:
        row.locator("a[download]").click()
    saved = tmp_path / "downloaded.zip"
    info.value.save_as(saved)
    size = next(b["size"] for b in api.get("/api/backups").json() if b["key"] == "screen.zip")
    assert saved.stat().st_size == size and saved.read_bytes()[:2] == b"PK"
    # upload it back under another name
    upload = tmp_path / "uploaded.zip"
    upload.write_bytes(saved.read_bytes())
    page.set_input_files("#backup-upload-file", str(upload))
    with page.expect_request("**/_/api/backups/upload") as sent:
        submit(page, "backup-upload")
    # posted by admin.js's XMLHttpRequest (upload progress), not by fetch
    assert sent.value.resource_type == "xhr" and sent.value.headers["accept"] == "application/json"
    expect(page.locator("#notice")).to_have_text("Backup uploaded.")
    expect(page.locator("#backup-upload-progress")).to_have_js_property("value", 100)
    expect(page.locator("tr[data-key='uploaded.zip']")).to_be_visible()  # the list reloaded
    assert "uploaded.zip" in [b["key"] for b in api.get("/api/backups").json()]
    # the API's refusal reaches the notice the same way
    page.set_input_files("#backup-upload-file", str(upload))
    submit(page, "backup-upload")
    expect(page.locator("#notice")).to_contain_text("already exists")
    # a change after the backup, undone by the restore
    assert api.patch("/api/settings", json={"meta": {"appName": "After backup"}}).status_code == 200
    row = page.locator("tr[data-key='screen.zip']")
    row.locator("summary").click()
    row.locator("input[name=confirm]").fill("screen.zip")
    row.locator("button[type=submit]").click()
    expect(page).to_have_url(page.url.split("/_/")[0] + "/_/backups?restored=screen.zip", timeout=30000)
    expect(page.locator("#notice")).to_have_text("Backup screen.zip restored.")
    assert api.get("/api/settings").json()["meta"]["appName"] != "After backup"
    shot(page, "backups-restored")
    # delete both
    for key in ("uploaded.zip", "screen.zip"):
        page.once("dialog", lambda d: d.accept())
        page.locator(f"tr[data-key='{key}'] button.danger-link").click()
        expect(page.locator(f"tr[data-key='{key}']")).to_have_count(0)
    assert not {"uploaded.zip", "screen.zip"} & {b["key"] for b in api.get("/api/backups").json()}

"""/api/backups: scenarios, archive contents, download tokens, upload, and restore safety."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import apsw
import pytest

from core.app import App
from core.store.record_view import fetch_dicts
from tests import fixture_data
from tests.scenario import Scenario, run_scenario
from tests.services.helpers import eventually

VALIDATION = '"message":"An error occurred while validating the submitted data."'


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def backups_dir(app: App) -> Path:
    path = app.store.dir / "backups"
    path.mkdir(parents=True, exist_ok=True)
    (path / "existing.zip").write_bytes(zip_bytes({"data.db": b"x"}))
    return path


def file_token(app: App, collection: str, record_id: str) -> str:
    col = app.store.find(collection)
    assert col is not None
    raw = app.store.db.read_sync(
        lambda c: fetch_dicts(c, f"SELECT * FROM `{collection}` WHERE id = ?", (record_id,))[0]
    )
    return app.auth.issue(col, raw, "file")


def superuser_id(app: App) -> str:
    return app.store.db.read_sync(
        lambda c: c.execute(
            "SELECT id FROM _superusers WHERE email = ?", (fixture_data.SUPERUSER[0],)
        ).fetchone()[0]
    )


SCENARIOS = [
    Scenario("list as guest", "GET", "/api/backups", 401),
    Scenario("list as user", "GET", "/api/backups", 403, auth="user1"),
    Scenario("create as guest", "POST", "/api/backups", 401, body={}),
    Scenario("create as user", "POST", "/api/backups", 403, auth="user1", body={}),
    Scenario("upload as user", "POST", "/api/backups/upload", 403, auth="user2"),
    Scenario("delete as guest", "DELETE", "/api/backups/existing.zip", 401),
    Scenario("restore as user", "POST", "/api/backups/existing.zip/restore", 403, auth="user1"),
    Scenario(
        "list",
        "GET",
        "/api/backups",
        200,
        auth="superuser",
        contains=['[{"modified":"', '","key":"existing.zip","size":'],
    ),
    Scenario(
        "create with an invalid name",
        "POST",
        "/api/backups",
        400,
        auth="superuser",
        body={"name": "My.zip"},
        contains=[
            VALIDATION,
            '"name":{"code":"validation_match_invalid","message":"Must be in a valid format."}',
        ],
    ),
    Scenario("create with a path", "POST", "/api/backups", 400, auth="superuser", body={"name": "../x.zip"}),
    Scenario("create without .zip", "POST", "/api/backups", 400, auth="superuser", body={"name": "abc"}),
    Scenario(
        "create with a dot in the name",
        "POST",
        "/api/backups",
        400,
        auth="superuser",
        body={"name": "a.b.zip"},
    ),
    Scenario(
        "create with an existing name",
        "POST",
        "/api/backups",
        400,
        auth="superuser",
        body={"name": "existing.zip"},
        contains=[
            '"name":{"code":"validation_backup_name_exists","message":"The backup file name is invalid or already exists."}'
        ],
    ),
    Scenario(
        "create with a non-string name",
        "POST",
        "/api/backups",
        400,
        auth="superuser",
        body={"name": 123},
        contains=['"message":"An error occurred while loading the submitted data."'],
    ),
    Scenario(
        "upload without a file",
        "POST",
        "/api/backups/upload",
        400,
        auth="superuser",
        multipart={"other": ("a.zip", zip_bytes({"data.db": b""}), "application/zip")},
        contains=['"file":{"code":"validation_required","message":"Cannot be blank."}'],
    ),
    Scenario(
        "upload a non-zip",
        "POST",
        "/api/backups/upload",
        400,
        auth="superuser",
        multipart={"file": ("notes.zip", b"hello", "application/zip")},
        contains=[
            '"file":{"code":"validation_invalid_mime_type","message":"\\"notes.zip\\" mime type must be one of: application/zip."}'
        ],
    ),
    Scenario(
        "upload an existing name",
        "POST",
        "/api/backups/upload",
        400,
        auth="superuser",
        multipart={"file": ("existing.zip", zip_bytes({"data.db": b""}), "application/zip")},
        contains=[
            '"file":{"code":"validation_backup_name_exists","message":"Backup file with the specified name already exists."}'
        ],
    ),
    Scenario(
        "upload",
        "POST",
        "/api/backups/upload",
        204,
        auth="superuser",
        multipart={"file": ("../../evil name.zip", zip_bytes({"data.db": b""}), "application/zip")},
        after=lambda app, _r: (
            (app.store.dir / "backups" / "evil name.zip").is_file() or pytest.fail("not saved")
        ),
    ),
    Scenario(
        "download without a token",
        "GET",
        "/api/backups/existing.zip",
        403,
        contains=['"message":"Insufficient permissions to access the resource."'],
    ),
    Scenario("download with an auth token", "GET", "/api/backups/existing.zip?token=", 403),
    Scenario(
        "delete missing",
        "DELETE",
        "/api/backups/missing.zip",
        400,
        auth="superuser",
        contains=['"message":"Invalid or already deleted backup file."'],
    ),
    Scenario(
        "delete",
        "DELETE",
        "/api/backups/existing.zip",
        204,
        auth="superuser",
        after=lambda app, _r: (
            not (app.store.dir / "backups" / "existing.zip").exists() or pytest.fail("kept")
        ),
    ),
    Scenario(
        "restore missing",
        "POST",
        "/api/backups/missing.zip/restore",
        400,
        auth="superuser",
        contains=['"message":"Missing or invalid backup file."'],
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_backups_api(
    client: Any, app: App, backups_dir: Path, tokens: dict[str, str], scenario: Scenario
) -> None:
    await run_scenario(client, app, tokens, scenario)


async def test_create_list_download_delete(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    (app.store.dir / "storage" / "pbc_x" / "rec").mkdir(parents=True)
    (app.store.dir / "storage" / "pbc_x" / "rec" / "file.txt").write_text("attached")
    resp = await client.post("/api/backups", headers=su, json={})
    assert resp.status_code == 204, resp.text
    listing = (await client.get("/api/backups", headers=su)).json()
    assert len(listing) == 1
    key = listing[0]["key"]
    assert re.fullmatch(r"pb_backup_acme_\d{14}\.zip", key)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z", listing[0]["modified"])

    token = file_token(app, "_superusers", superuser_id(app))
    resp = await client.get(f"/api/backups/{key}", params={"token": token})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/zip"
    assert resp.headers["content-disposition"].startswith("attachment")
    assert len(resp.content) == listing[0]["size"]
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        names = zf.namelist()
        assert names[:2] == ["data.db", "auxiliary.db"]
        assert "storage/pbc_x/rec/file.txt" in names
        assert not any(
            n.startswith(("backups/", ".pb_temp_to_delete/")) or n.endswith(("-wal", "-shm")) for n in names
        )
        db = zf.read("data.db")
    assert db.startswith(b"SQLite format 3\x00")

    # a user's file token, an auth token or a missing file are all refused
    user_token = file_token(app, "users", fixture_data.USER1_ID)
    assert (await client.get(f"/api/backups/{key}", params={"token": user_token})).status_code == 403
    assert (await client.get(f"/api/backups/{key}", params={"token": tokens["superuser"]})).status_code == 403
    assert (await client.get("/api/backups/missing.zip", params={"token": token})).status_code == 404

    assert (await client.delete(f"/api/backups/{key}", headers=su)).status_code == 204
    assert (await client.get("/api/backups", headers=su)).json() == []


async def test_backup_is_consistent_under_writes(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    posts = app.store.find("posts")
    assert posts is not None

    async def writer() -> int:
        n = 0
        for i in range(40):
            resp = await client.post(
                "/api/collections/posts/records",
                headers={"Authorization": tokens["user1"]},
                json={"title": f"concurrent {i}", "author": fixture_data.USER1_ID},
            )
            assert resp.status_code == 200, resp.text
            n += 1
        return n

    results = await asyncio.gather(
        writer(), client.post("/api/backups", headers=su, json={"name": "during.zip"})
    )
    assert results[1].status_code == 204
    extracted = app.store.dir / "check"
    with zipfile.ZipFile(app.store.dir / "backups" / "during.zip") as zf:
        zf.extractall(extracted)
    conn = apsw.Connection(str(extracted / "data.db"))
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    count = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    conn.close()
    assert len(fixture_data.POST_RECORDS) <= count <= len(fixture_data.POST_RECORDS) + 40


async def test_only_one_backup_at_a_time(client: Any, app: App, tokens: dict[str, str]) -> None:
    service = app.services["backups"]
    service.acquire("busy.zip")
    try:
        su = {"Authorization": tokens["superuser"]}
        resp = await client.post("/api/backups", headers=su, json={})
        assert resp.status_code == 400
        assert (
            resp.json()["message"]
            == "Try again later - another backup/restore process has already been started"
        )
        (app.store.dir / "backups").mkdir(exist_ok=True)
        (app.store.dir / "backups" / "busy.zip").write_bytes(zip_bytes({"data.db": b""}))
        resp = await client.delete("/api/backups/busy.zip", headers=su)
        assert resp.json()["message"] == "The backup is currently being used and cannot be deleted."
        resp = await client.post("/api/backups/busy.zip/restore", headers=su)
        assert (
            resp.json()["message"]
            == "Try again later - another backup/restore process has already been started."
        )
    finally:
        service.release()


# -- restore ---------------------------------------------------------------------------------------
async def _restore(client: Any, app: App, su: dict[str, str], key: str) -> Any:
    resp = await client.post(f"/api/backups/{key}/restore", headers=su)
    if resp.status_code == 204:
        await eventually(lambda: app.services["backups"].active is None, what="restore finished")
    return resp


async def test_restore_brings_the_data_back(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    assert (await client.post("/api/backups", headers=su, json={"name": "before.zip"})).status_code == 204

    # change records, collections, settings and logs after the backup
    resp = await client.post(
        "/api/collections/posts/records",
        headers={"Authorization": tokens["user1"]},
        json={"title": "after the backup", "author": fixture_data.USER1_ID},
    )
    new_id = resp.json()["id"]
    await client.patch("/api/settings", headers=su, json={"meta": {"appName": "Changed"}})
    await client.post("/api/collections", headers=su, json={"name": "later", "type": "base"})

    # requests keep flowing while the restore happens (before, during and after the swap);
    # none of them may fail or see a half state
    done = asyncio.Event()

    async def reader() -> list[int]:
        statuses = []
        while not done.is_set() or len(statuses) < 10:
            r = await client.get("/api/collections/posts/records", headers={"Authorization": tokens["user1"]})
            statuses.append(r.status_code)
            await asyncio.sleep(0.001)  # the test client does not yield by itself
        return statuses

    async def restore_then_stop() -> Any:
        try:
            return await _restore(client, app, su, "before.zip")
        finally:
            done.set()

    restore, *readers = await asyncio.gather(restore_then_stop(), reader(), reader())
    assert restore.status_code == 204, restore.text
    assert all(s == 200 for statuses in readers for s in statuses), readers

    resp = await client.get(
        f"/api/collections/posts/records/{new_id}", headers={"Authorization": tokens["user1"]}
    )
    assert resp.status_code == 404
    settings = (await client.get("/api/settings", headers=su)).json()  # the same token still works
    assert settings["meta"]["appName"] == "Acme"
    assert (await client.get("/api/collections/later", headers=su)).status_code == 404
    assert app.store.find("later") is None
    # the backups themselves and the scratch space survive / are cleaned
    assert (app.store.dir / "backups" / "before.zip").is_file()
    assert list((app.store.dir / ".pb_temp_to_delete").iterdir()) == []
    # logging and writing work on the restored data
    resp = await client.post(
        "/api/collections/posts/records",
        headers={"Authorization": tokens["user1"]},
        json={"title": "after the restore", "author": fixture_data.USER1_ID},
    )
    assert resp.status_code == 200
    app.services["logs"].flush()
    resp = await client.get("/api/logs", headers=su, params={"filter": 'data.url ~ "restore"'})
    assert resp.status_code == 200


def _entries(app: App) -> list[str]:
    """The data dir's entries, without the scratch dir and the WAL files SQLite manages."""
    return sorted(
        p.name
        for p in app.store.dir.iterdir()
        if p.name != ".pb_temp_to_delete" and not p.name.endswith(("-wal", "-shm"))
    )


def _live_state(app: App) -> tuple[int, dict[str, Any]]:
    count = app.store.db.read_sync(lambda c: c.execute("SELECT count(*) FROM posts").fetchone()[0])
    return count, app.store.settings.get()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("foreign.zip", zip_bytes({"readme.txt": b"hello", "photo.jpg": b"\xff\xd8"}), "data.db is missing"),
        (
            "garbage.zip",
            zip_bytes({"data.db": b"not a database at all" * 100}),
            "data.db is not a valid SQLite",
        ),
        ("truncated.zip", zip_bytes({"data.db": b"x" * 5000})[:-30], "not a valid zip archive"),
        ("traversal.zip", zip_bytes({"data.db": b"", "../escape.txt": b"x"}), "unsafe file name"),
    ],
)
async def test_bad_archives_are_refused_and_nothing_changes(
    client: Any, app: App, tokens: dict[str, str], name: str, content: bytes, reason: str
) -> None:
    su = {"Authorization": tokens["superuser"]}
    (app.store.dir / "backups").mkdir(exist_ok=True)
    (app.store.dir / "backups" / name).write_bytes(content)
    before = _live_state(app)
    files_before = _entries(app)
    resp = await client.post(f"/api/backups/{name}/restore", headers=su)
    assert resp.status_code == 400, resp.text
    assert resp.json()["message"].startswith("Failed to restore backup. Raw error:")
    assert reason in resp.json()["message"]
    assert _live_state(app) == before
    assert _entries(app) == files_before
    assert app.services["backups"].active is None
    assert not (app.store.dir.parent / "escape.txt").exists()


async def test_foreign_sqlite_database_is_refused(client: Any, app: App, tokens: dict[str, str]) -> None:
    other = app.store.dir / "other.db"
    conn = apsw.Connection(str(other))
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.close()
    (app.store.dir / "backups").mkdir(exist_ok=True)
    (app.store.dir / "backups" / "other.zip").write_bytes(zip_bytes({"data.db": other.read_bytes()}))
    other.unlink()
    resp = await client.post("/api/backups/other.zip/restore", headers={"Authorization": tokens["superuser"]})
    assert resp.status_code == 400
    assert "not a database of this app" in resp.json()["message"]


async def test_restore_resets_the_auth_state(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    old = {"Authorization": tokens["user1"]}
    me = f"/api/collections/users/records/{fixture_data.USER1_ID}"
    assert (await client.get(me, headers=old)).status_code == 200  # cached as valid
    assert (await client.post("/api/backups", headers=su, json={"name": "auth.zip"})).status_code == 204

    # a password change rotates the tokenKey: the old token dies, a new login gets a new one
    resp = await client.patch(
        me, headers=su, json={"password": "new-password-1", "passwordConfirm": "new-password-1"}
    )
    assert resp.status_code == 200, resp.text
    assert (await client.get(me, headers=old)).status_code == 404
    resp = await client.post(
        "/api/collections/users/auth-with-password",
        json={"identity": fixture_data.USER1[0], "password": "new-password-1"},
    )
    new = {"Authorization": resp.json()["token"]}
    assert (await client.get(me, headers=new)).status_code == 200

    assert (await _restore(client, app, su, "auth.zip")).status_code == 204
    # the restored tokenKey is the old one again: no cache may keep the other answer
    assert (await client.get(me, headers=old)).status_code == 200
    assert (await client.get(me, headers=new)).status_code == 404

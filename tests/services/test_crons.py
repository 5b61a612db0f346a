"""/api/crons scenarios and what the built-in jobs do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.app import App
from core.store.db import WriteContext
from core.store.times import format_dt
from tests.scenario import Scenario, run_scenario
from tests.services.helpers import eventually, wait_crons

BUILTIN = (
    '[{"id":"__pbDBOptimize__","expression":"0 0 * * *"},{"id":"__pbMFACleanup__","expression":"0 * * * *"},'
    '{"id":"__pbOTPCleanup__","expression":"0 * * * *"},{"id":"__pbLogsCleanup__","expression":"0 */6 * * *"}]'
)

SCENARIOS = [
    Scenario(
        "list as guest",
        "GET",
        "/api/crons",
        401,
        contains=['"message":"The request requires valid record authorization token."'],
    ),
    Scenario("list as user", "GET", "/api/crons", 403, auth="user1"),
    Scenario("run as guest", "POST", "/api/crons/__pbDBOptimize__", 401),
    Scenario("run as user", "POST", "/api/crons/__pbDBOptimize__", 403, auth="user2"),
    Scenario("list", "GET", "/api/crons", 200, auth="superuser", contains=[BUILTIN]),
    Scenario(
        "list with fields",
        "GET",
        "/api/crons?fields=id",
        200,
        auth="superuser",
        contains=['[{"id":"__pbDBOptimize__"},'],
    ),
    Scenario(
        "run unknown",
        "POST",
        "/api/crons/nope",
        404,
        auth="superuser",
        contains=['"message":"Missing or invalid cron job."'],
    ),
    Scenario("run db optimize", "POST", "/api/crons/__pbDBOptimize__", 204, auth="superuser"),
    Scenario("run logs cleanup", "POST", "/api/crons/__pbLogsCleanup__", 204, auth="superuser"),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_crons_api(client: Any, app: App, tokens: dict[str, str], scenario: Scenario) -> None:
    await run_scenario(client, app, tokens, scenario)
    await wait_crons(app)


def _insert(app: App, table: str, rows: list[tuple[str, str]]) -> None:
    """rows: (id, created); `_otps` also needs its password and sentTo columns."""

    def op(ctx: WriteContext) -> None:
        for row_id, created in rows:
            if table == "_otps":
                ctx.conn.execute(
                    "INSERT INTO _otps (id, collectionRef, recordRef, password, sentTo, created, updated) "
                    "VALUES (?, '_pb_users_auth_', 'user1aaaaaaaaaa', 'x', '', ?, ?)",
                    (row_id, created, created),
                )
            else:
                ctx.conn.execute(
                    "INSERT INTO _mfas (id, collectionRef, recordRef, method, created, updated) "
                    "VALUES (?, '_pb_users_auth_', 'user1aaaaaaaaaa', 'password', ?, ?)",
                    (row_id, created, created),
                )

    app.store.db.write_sync(op)


def _ids(app: App, table: str) -> list[str]:
    return app.store.db.read_sync(lambda c: [r[0] for r in c.execute(f"SELECT id FROM {table} ORDER BY id")])


@pytest.mark.parametrize(
    ("job", "table", "duration"),
    [("__pbOTPCleanup__", "_otps", 180), ("__pbMFACleanup__", "_mfas", 600)],
)
async def test_cleanup_deletes_expired_records(
    client: Any, app: App, tokens: dict[str, str], job: str, table: str, duration: int
) -> None:
    now = datetime.now(UTC)
    _insert(
        app,
        table,
        [
            ("expiredaaaaaaaa", format_dt(now - timedelta(seconds=duration + 60))),
            ("freshbbbbbbbbbb", format_dt(now - timedelta(seconds=duration - 60))),
        ],
    )
    resp = await client.post(f"/api/crons/{job}", headers={"Authorization": tokens["superuser"]})
    assert resp.status_code == 204
    await wait_crons(app)
    assert _ids(app, table) == ["freshbbbbbbbbbb"]


async def test_cleanup_follows_the_collection_duration(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    resp = await client.patch("/api/collections/users", headers=su, json={"otp": {"duration": 30}})
    assert resp.status_code == 200, resp.text
    _insert(app, "_otps", [("olderthan30sxxx", format_dt(datetime.now(UTC) - timedelta(seconds=90)))])
    await client.post("/api/crons/__pbOTPCleanup__", headers=su)
    await wait_crons(app)
    assert _ids(app, "_otps") == []


async def test_db_optimize_checkpoints_the_wal(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    wal = app.store.dir / "data.db-wal"
    for i in range(20):
        await client.patch("/api/settings", headers=su, json={"meta": {"appName": f"App {i}"}})
    before = wal.stat().st_size
    await client.post("/api/crons/__pbDBOptimize__", headers=su)
    await wait_crons(app)
    # truncated, then only what `PRAGMA optimize` itself wrote (the planner statistics)
    assert wal.stat().st_size < before
    stats = app.store.db.read_sync(lambda c: c.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0])
    assert stats > 0


async def test_backups_cron_schedules_auto_backups(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    resp = await client.patch(
        "/api/settings", headers=su, json={"backups": {"cron": "@hourly", "cronMaxKeep": 1}}
    )
    assert resp.status_code == 200
    # the settings listener runs right after the commit, maybe after the response
    job = await eventually(lambda: app.services["cron"].find("__pbAutoBackup__"), what="job added")
    assert job.to_json() == {"id": "__pbAutoBackup__", "expression": "0 * * * *"}
    resp = await client.get("/api/crons", headers=su)
    assert resp.json()[-1] == {"id": "__pbAutoBackup__", "expression": "0 * * * *"}

    # runs keep only the newest auto backup (cronMaxKeep 1); a manual backup is never pruned
    backups_dir = app.store.dir / "backups"
    backups_dir.mkdir(parents=True, exist_ok=True)
    (backups_dir / "manual.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    old = backups_dir / "@auto_pb_backup_acme_20200101000000.zip"
    old.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    import os

    os.utime(old, (1_500_000_000, 1_500_000_000))
    for _ in range(2):
        await client.post("/api/crons/__pbAutoBackup__", headers=su)
        await wait_crons(app)
    names = sorted(p.name for p in backups_dir.iterdir())
    autos = [n for n in names if n.startswith("@auto_pb_backup_acme_")]
    assert "manual.zip" in names
    assert old.name not in names and len(autos) == 1

    resp = await client.patch("/api/settings", headers=su, json={"backups": {"cron": ""}})
    await eventually(lambda: app.services["cron"].find("__pbAutoBackup__") is None, what="job removed")

"""PocketBase's built-in cron jobs, with its ids and schedules, plus the settings-driven auto-backup.

Unlike the scheduler itself this module knows the App: each job reaches the store, the logs
service or the backups service through it, at run time (services may start after the jobs
are registered).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apsw

from core.app import App
from core.cron.schedule import CronSyntaxError
from core.cron.scheduler import Scheduler
from core.store.db import WriteContext
from core.store.ddl import quote
from core.store.times import format_dt

log = logging.getLogger("core.cron")

DB_OPTIMIZE = "__pbDBOptimize__"
MFA_CLEANUP = "__pbMFACleanup__"
OTP_CLEANUP = "__pbOTPCleanup__"
LOGS_CLEANUP = "__pbLogsCleanup__"
AUTO_BACKUP = "__pbAutoBackup__"


def register_builtin_jobs(scheduler: Scheduler, app: App) -> None:
    # registration order is listing order (`GET /api/crons`), as in PocketBase
    scheduler.add(DB_OPTIMIZE, "0 0 * * *", lambda: optimize_databases(app))
    scheduler.add(MFA_CLEANUP, "0 * * * *", lambda: delete_expired(app, "_mfas", "mfa"))
    scheduler.add(OTP_CLEANUP, "0 * * * *", lambda: delete_expired(app, "_otps", "otp"))
    scheduler.add(LOGS_CLEANUP, "0 */6 * * *", lambda: cleanup_logs(app))
    sync_auto_backup(scheduler, app)


def sync_auto_backup(scheduler: Scheduler, app: App) -> None:
    """(Re)schedule `__pbAutoBackup__` from `settings.backups.cron` ("" = no auto backups)."""
    expression = str((app.store.settings.get().get("backups") or {}).get("cron") or "")
    if not expression:
        scheduler.remove(AUTO_BACKUP)
        return
    try:
        scheduler.add(AUTO_BACKUP, expression, lambda: auto_backup(app))
    except CronSyntaxError as e:  # stored before validation existed, or edited by hand
        log.error("invalid backups.cron %r: %s", expression, e)
        scheduler.remove(AUTO_BACKUP)


def optimize_databases(app: App) -> None:
    """Checkpoint both WALs back to zero size and refresh the query planner's statistics."""
    paths = [app.store.db.path]
    logs = app.services.get("logs")
    if logs is not None:
        paths.append(logs.db.path)
    for i, path in enumerate(paths):
        _checkpoint(Path(path), optimize=i == 0)


def _checkpoint(path: Path, optimize: bool) -> None:
    # a short-lived connection: a checkpoint cannot run inside the writer's transaction
    conn = apsw.Connection(str(path))
    try:
        conn.setbusytimeout(10000)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        if optimize:
            # 0x10002: consider every table, not only those this (new) connection has queried
            conn.execute("PRAGMA optimize=0x10002").fetchall()
    finally:
        conn.close()


def delete_expired(app: App, table: str, option: str) -> int:
    """Delete `_otps`/`_mfas` rows older than their auth collection's `otp`/`mfa` duration.

    Every auth collection is swept, even with the feature off, so nothing stale lingers.
    """
    now = datetime.now(UTC)
    collections = [c for c in app.store.registry.all() if c.is_auth]

    def op(ctx: WriteContext) -> int:
        deleted = 0
        for col in collections:
            seconds = int((col.auth.get(option) or {}).get("duration") or 0)
            cutoff = format_dt(now - timedelta(seconds=seconds))
            ctx.conn.execute(
                f"DELETE FROM {quote(table)} WHERE collectionRef = ? AND created < ?", (col.id, cutoff)
            )
            deleted += ctx.conn.changes()
        return deleted

    return app.store.db.write_sync(op)


def cleanup_logs(app: App) -> None:
    logs = app.services.get("logs")
    if logs is not None:
        logs.delete_expired()


def auto_backup(app: App) -> None:
    backups = app.services.get("backups")
    if backups is not None:
        backups.auto_backup()

"""The backups of one data dir: list, create, upload, delete, restore, and the cron auto-backup.

Blocking work (SQLite copies, zip files) happens in the calling thread: the API runs these
methods in worker threads, the CLI calls them directly. One backup or restore at a time per
process, like PocketBase's "@activeBackup" guard.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from core.backups import restore
from core.backups.archive import ArchiveError, Progress, create_archive, no_progress
from core.backups.layout import BACKUPS_DIR, is_valid_key, snakecase, temp_dir
from core.store.times import format_dt

log = logging.getLogger("core.backups")

AUTO_PREFIX = "@auto_pb_backup_"
MANUAL_PREFIX = "pb_backup_"
BUSY = "Try again later - another backup/restore process has already been started."


class BackupError(Exception):
    """A refused operation; `message` is what the API shows."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class BackupInfo:
    key: str
    size: int
    modified: str

    def to_json(self) -> dict[str, Any]:
        # PocketBase's key order
        return {"modified": self.modified, "key": self.key, "size": self.size}


class BackupService:
    def __init__(self, pb_dir: Path, settings: Callable[[], dict[str, Any]]) -> None:
        self.pb_dir = pb_dir
        self.dir = pb_dir / BACKUPS_DIR
        self._settings = settings
        self._lock = threading.Lock()
        self.active: str | None = None
        # run (in the creating thread) before each backup is archived: under --ha, fetching the
        # record files this node has not served yet, so that the archive holds every file
        self.before_create: Callable[[], None] | None = None

    # -- guard -----------------------------------------------------------------------------
    def acquire(self, name: str) -> None:
        """Mark an operation as running (BackupError if one already is)."""
        with self._lock:
            if self.active is not None:
                raise BackupError(BUSY)
            self.active = name

    def release(self) -> None:
        with self._lock:
            self.active = None

    @contextlib.contextmanager
    def operation(self, name: str) -> Iterator[None]:
        self.acquire(name)
        try:
            yield
        finally:
            self.release()

    # -- files -----------------------------------------------------------------------------
    def path(self, key: str) -> Path | None:
        """The file of an existing backup, or None (also for keys that would leave the dir)."""
        if not is_valid_key(key):
            return None
        path = self.dir / key
        return path if path.is_file() else None

    def list(self) -> list[BackupInfo]:
        if not self.dir.is_dir():
            return []
        out = []
        for entry in self.dir.iterdir():
            # `.attrs` are the metadata sidecars PocketBase's blob store writes next to each file
            if not entry.is_file() or entry.name.endswith(".attrs"):
                continue
            st = entry.stat()
            out.append(
                BackupInfo(entry.name, st.st_size, format_dt(datetime.fromtimestamp(st.st_mtime, UTC)))
            )
        return sorted(out, key=lambda b: b.key)

    def generate_name(self, prefix: str = MANUAL_PREFIX) -> str:
        app_name = snakecase(str((self._settings().get("meta") or {}).get("appName") or ""))[:50]
        return f"{prefix}{app_name}_{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}.zip"

    # -- operations ------------------------------------------------------------------------
    def create(self, name: str = "", progress: Progress = no_progress) -> str:
        """Write a new backup (an existing one of that name is replaced, as in PocketBase)."""
        name = name or self.generate_name()
        if not is_valid_key(name):
            raise BackupError("Invalid backup name.")
        with self.operation(name):
            self.dir.mkdir(parents=True, exist_ok=True)
            scratch = temp_dir(self.pb_dir) / f"pb_backup_{secrets.token_hex(4)}"
            try:
                if self.before_create is not None:
                    self.before_create()
                create_archive(self.pb_dir, scratch, self.dir / name, progress)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return name

    def save_upload(self, name: str, stream: IO[bytes]) -> None:
        if not is_valid_key(name):
            raise BackupError("Invalid backup name.")
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = temp_dir(self.pb_dir) / f"upload_{secrets.token_hex(4)}"
        try:
            with tmp.open("wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
            os.replace(tmp, self.dir / name)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        if self.active is not None and self.active == key:
            raise BackupError("The backup is currently being used and cannot be deleted.")
        path = self.path(key)
        if path is None:
            raise BackupError("Invalid or already deleted backup file.")
        path.unlink()

    def prepare_restore(
        self,
        key: str,
        trial_open: Callable[[Path], None],
        progress: Progress = no_progress,
    ) -> restore.PreparedRestore:
        """Extract and verify `key`; the live data is not touched (ArchiveError if unusable)."""
        path = self.path(key)
        if path is None:
            raise BackupError("Missing or invalid backup file.")
        return restore.prepare(self.pb_dir, path, trial_open, progress)

    # -- the auto-backup cron job ----------------------------------------------------------
    def auto_backup(self) -> None:
        """Create `@auto_pb_backup_*.zip`, then keep only the newest `backups.cronMaxKeep`."""
        name = self.generate_name(AUTO_PREFIX)
        try:
            self.create(name)
        except (BackupError, ArchiveError, OSError) as e:
            log.error("[Backup cron] failed to create backup %s: %s", name, e)
        max_keep = int((self._settings().get("backups") or {}).get("cronMaxKeep") or 0)
        if max_keep <= 0:
            return
        autos = [b for b in self.list() if b.key.startswith(AUTO_PREFIX)]
        autos.sort(key=lambda b: (b.modified, b.key), reverse=True)
        for old in autos[max_keep:]:
            with contextlib.suppress(OSError):
                (self.dir / old.key).unlink()

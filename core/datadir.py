"""The data dir before anything opens it: private modes, a clear error when it is unusable, and
one server per data dir.

`data.db` holds every token secret, so the dirs are created 0700 and the databases 0600 whatever
the umask (SQLite gives its -wal and -shm files the mode of the database). A dir that exists is
left as its owner set it.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.backups.layout import DATABASES
from core.backups.lock import DataDirLock
from core.config import ConfigError

SERVE_LOCK = ".serve.lock"  # in the data dir, beside pocketbase/ (never archived by a backup)


def prepare(data_dir: Path, pb_dir: Path) -> None:
    """Create what is missing with private modes; ConfigError (one line) when it cannot."""
    try:
        for path in (data_dir, pb_dir):
            _private_dir(path)
        for name in DATABASES:
            _private_file(pb_dir / name)
    except OSError as exc:
        raise ConfigError(f"--dir: cannot use data dir {data_dir}: {_reason(exc)}") from None


def _private_dir(path: Path) -> None:
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied (not writable)", str(path))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)  # mkdir's mode is masked by the umask


def _private_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # an empty file is an empty SQLite database
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def hold_serve_lock(data_dir: Path) -> DataDirLock:
    """Refuse a second `core serve` on a data dir a running one holds, before it touches
    anything: it would upsert the superuser into the live database and rewrite the running
    NATS server's config. `--workers` followers share their leader's dir and skip this."""
    lock = DataDirLock(data_dir, SERVE_LOCK)
    try:
        acquired = lock.acquire(exclusive=True)
    except OSError as exc:
        raise ConfigError(f"--dir: cannot use data dir {data_dir}: {_reason(exc)}") from None
    if not acquired:
        raise ConfigError(
            f"--dir: a server is already running on {data_dir}; stop it first or choose another --dir"
        )
    return lock

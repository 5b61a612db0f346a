"""An advisory lock on the data dir, so the CLI never restores under a running server.

The server holds a shared lock for its lifetime; `core backup restore` needs the exclusive one.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from core.backups.layout import LOCK_FILE


class DataDirLock:
    def __init__(self, pb_dir: Path, name: str = LOCK_FILE) -> None:
        self.path = pb_dir / name
        self._fd: int | None = None

    def acquire(self, exclusive: bool) -> bool:
        """Take the lock without waiting; False when another process holds a conflicting one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

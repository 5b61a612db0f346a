"""What the processes serving one data dir share: a writer lock per database and cache epochs.

`core serve --workers N` runs N processes on the same SQLite files. SQLite already keeps them
consistent, but two things it does not do the way a server needs:

- Writers would meet in SQLite's busy handler, which sleeps (1, 2, 5 ... 100 ms) and retries.
  Each database's writer thread instead holds an `flock` on a small file for the length of one
  write group: a waiting writer sleeps in the kernel and wakes the moment the other one commits.
- Each process caches what it reads on every request (the collections, the settings, the auth
  records behind tokens). A commit that changes one of them bumps a counter in a shared memory
  page (`Epochs`) before the write is acknowledged; the other processes compare that page with
  what they last saw at the start of every request (a 16-byte compare) and catch up first.

Both files live in `RUN_DIR` inside the data dir, which backups neither archive nor replace.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from pathlib import Path

RUN_DIR = ".core-run"
_SLOT = struct.Struct("<Q")
_PAGE = 4096


def run_dir(db_dir: Path) -> Path:
    path = db_dir / RUN_DIR
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


class WriterLock:
    """An exclusive `flock` held by whichever process is running a write group on a database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def open(self) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def acquire(self) -> None:
        assert self._fd is not None, "writer lock is not open"
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


def writer_lock_for(db_path: Path) -> WriterLock:
    return WriterLock(run_dir(db_path.parent) / f"{db_path.name}.lock")


class Epochs:
    """Counters in one shared page: slot SCHEMA (collections, settings) and slot AUTH (auth records).

    Only a process holding data.db's writer lock bumps them, so a read-modify-write needs no
    other lock; readers compare `snapshot()` with the last value they acted on.
    """

    SCHEMA = 0
    AUTH = 1
    SLOTS = 2

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_size < _PAGE:
                os.ftruncate(fd, _PAGE)  # zero-filled: every counter starts at 0
            self._mm = mmap.mmap(fd, _PAGE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)  # the mapping keeps the file

    @classmethod
    def for_dir(cls, db_dir: Path) -> Epochs:
        return cls(run_dir(db_dir) / "epochs")

    def snapshot(self) -> bytes:
        return self._mm[: self.SLOTS * _SLOT.size]

    def bump(self, *slots: int) -> bytes:
        for slot in slots:
            offset = slot * _SLOT.size
            (value,) = _SLOT.unpack_from(self._mm, offset)
            _SLOT.pack_into(self._mm, offset, value + 1)
        return self.snapshot()

    @staticmethod
    def changed(old: bytes, new: bytes, slot: int) -> bool:
        start = slot * _SLOT.size
        return old[start : start + _SLOT.size] != new[start : start + _SLOT.size]

    def close(self) -> None:
        self._mm.close()

"""Putting a validated backup in place of the live data dir, with a way back.

The swap only renames entries (same filesystem: the scratch dir lives inside the data dir),
so it is quick and each step can be undone: the current entries move aside into
`.pb_temp_to_delete/old_pb_data_*`, then the extracted ones move in. If anything fails, the
moves are reversed and the live data is exactly as before. The caller closes the databases
before and reopens them after (see core/lifecycle.py).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.backups.archive import ArchiveError, Progress, check_databases, extract, no_progress
from core.backups.layout import EXCLUDED, temp_dir


@dataclass
class PreparedRestore:
    """An extracted and verified backup waiting to be swapped in."""

    pb_dir: Path
    extracted: Path
    old: Path = field(init=False)
    _moved_out: list[str] = field(default_factory=list)
    _moved_in: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.old = self.extracted.parent / f"old_pb_data_{secrets.token_hex(4)}"

    def swap(self) -> None:
        """Move the live entries aside and the restored ones in; all or nothing."""
        self.old.mkdir(parents=True, exist_ok=True)
        try:
            for entry in sorted(self.pb_dir.iterdir()):
                if entry.name not in EXCLUDED:
                    os.replace(entry, self.old / entry.name)
                    self._moved_out.append(entry.name)
            for entry in sorted(self.extracted.iterdir()):
                if entry.name not in EXCLUDED:
                    os.replace(entry, self.pb_dir / entry.name)
                    self._moved_in.append(entry.name)
        except OSError:
            self.undo()
            raise

    def undo(self) -> None:
        """Put the live data back as it was before `swap` (after a failed reopen, say)."""
        for name in reversed(self._moved_in):
            path = self.pb_dir / name
            if path.exists() or path.is_symlink():
                os.replace(path, self.extracted / name)
        self._moved_in.clear()
        # files the databases created while the restored data was open (WAL, shm) go too
        for entry in self.pb_dir.iterdir():
            if entry.name not in EXCLUDED:
                _remove(entry)
        for name in reversed(self._moved_out):
            os.replace(self.old / name, self.pb_dir / name)
        self._moved_out.clear()

    def discard(self) -> None:
        """Delete the scratch copies (the old data after a success, the extraction after a failure)."""
        for path in (self.extracted, self.old):
            shutil.rmtree(path, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def prepare(
    pb_dir: Path,
    zip_path: Path,
    trial_open: Callable[[Path], None],
    progress: Progress = no_progress,
) -> PreparedRestore:
    """Extract and verify a backup without touching the live data.

    `trial_open` opens the extracted data the way the app will (then closes it): an archive the
    app cannot start from is refused here, not discovered after the swap.
    """
    extracted = temp_dir(pb_dir) / f"pb_restore_{secrets.token_hex(4)}"
    extracted.mkdir(parents=True)
    try:
        extract(zip_path, extracted, progress)
        check_databases(extracted)
        try:
            trial_open(extracted)
        except ArchiveError:
            raise
        except Exception as e:
            raise ArchiveError(f"the restored data cannot be opened ({type(e).__name__}: {e})") from None
    except BaseException:
        shutil.rmtree(extracted, ignore_errors=True)
        raise
    return PreparedRestore(pb_dir, extracted)


def trial_open_store(env: Mapping[str, str] | None = None) -> Callable[[Path], None]:
    """Open (and close) a Store on a directory: bootstrap, registry and settings must load."""

    def run(path: Path) -> None:
        from core.store.store import Store

        store = Store(path, readers=1, env=env)
        store.open()
        store.close()

    return run


def clean_temp(pb_dir: Path) -> None:
    """Remove leftovers of interrupted backups and restores (PocketBase does it at start-up)."""
    root = pb_dir / ".pb_temp_to_delete"
    if root.is_dir():
        for entry in root.iterdir():
            _remove(entry)

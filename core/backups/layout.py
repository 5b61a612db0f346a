"""What lives where in the data dir, and which entries backups and restores leave alone."""

from __future__ import annotations

import re
from pathlib import Path

from core.store.shared import RUN_DIR

BACKUPS_DIR = "backups"
TEMP_DIR = ".pb_temp_to_delete"  # PocketBase's name: whatever is inside may be deleted at start-up
LOCK_FILE = ".core.lock"
DATA_DB = "data.db"
AUX_DB = "auxiliary.db"
DATABASES = (DATA_DB, AUX_DB)
# top-level entries never archived nor replaced by a restore (PocketBase's list, our lock, and the
# writer locks and epochs the worker processes share)
EXCLUDED = frozenset({BACKUPS_DIR, TEMP_DIR, LOCK_FILE, RUN_DIR, ".notify", ".autocert_cache", "lost+found"})
# the databases are copied through SQLite's backup API, never as raw files
DB_FILES = frozenset(f"{db}{suffix}" for db in DATABASES for suffix in ("", "-wal", "-shm", "-journal"))

# `POST /api/backups {name}` (PocketBase's backupNameRegex)
NAME_RE = re.compile(r"^[a-z0-9_-]+\.zip$")
# Go's \W is ASCII: non-ASCII letters split words too
_SNAKE_SPLIT = re.compile(r"[^0-9A-Za-z]+")


def snakecase(text: str) -> str:
    """PocketBase's inflector.Snakecase ("My App" -> "my_app", "myTestDB" -> "my_test_db")."""
    out: list[str] = []
    for word in _SNAKE_SPLIT.split(text):
        if not word:
            continue
        if out:
            out.append("_")
        for i, ch in enumerate(word):
            if ch.isupper() and i > 0 and not word[i - 1].isupper():
                out.append("_")
            out.append(ch)
    return "".join(out).lower()


def is_valid_key(key: str) -> bool:
    """A backup file name that stays inside the backups dir (no separators, no dot names)."""
    return bool(key) and key not in (".", "..") and not any(c in key for c in "/\\\x00") and len(key) <= 255


def temp_dir(pb_dir: Path) -> Path:
    path = pb_dir / TEMP_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path

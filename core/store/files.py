"""Record files on the local filesystem: `<data>/storage/<collectionId>/<recordId>/<filename>`.

Thumbnails live beside their original, as in PocketBase:
`<recordId>/thumbs_<filename>/<size>_<filename>`, so removing a file or a record removes them too.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO

# the characters a stored filename can have (filesystem.normalizeName keeps `* + = #` in extensions)
SAFE_PART = re.compile(r"^[A-Za-z0-9_.\-*+=#]+$")


COPY_CHUNK = 1 << 20


def _check(*parts: str) -> None:
    for part in parts:
        if not SAFE_PART.match(part) or part in (".", ".."):
            raise ValueError("unsafe file path")


class FileStorage:
    def __init__(self, root: Path):
        self.root = root

    def path(self, collection_id: str, record_id: str, name: str) -> Path:
        _check(collection_id, record_id, name)
        return self.root / collection_id / record_id / name

    def thumb_path(self, collection_id: str, record_id: str, name: str, size: str) -> Path:
        _check(collection_id, record_id, name, size)
        return self.root / collection_id / record_id / f"thumbs_{name}" / f"{size}_{name}"

    def save(self, collection_id: str, record_id: str, name: str, data: bytes | BinaryIO) -> None:
        write_atomic(self.path(collection_id, record_id, name), data)

    def exists(self, collection_id: str, record_id: str, name: str) -> bool:
        try:
            return self.path(collection_id, record_id, name).is_file()
        except ValueError:
            return False

    def delete(self, collection_id: str, record_id: str, name: str) -> None:
        """Remove a file and its thumbnails."""
        with contextlib.suppress(FileNotFoundError, ValueError):
            self.path(collection_id, record_id, name).unlink()
        with contextlib.suppress(ValueError):
            shutil.rmtree(self.root / collection_id / record_id / f"thumbs_{name}", ignore_errors=True)

    def delete_record(self, collection_id: str, record_id: str) -> None:
        if SAFE_PART.match(collection_id) and SAFE_PART.match(record_id):
            shutil.rmtree(self.root / collection_id / record_id, ignore_errors=True)

    def delete_collection(self, collection_id: str) -> None:
        if SAFE_PART.match(collection_id):
            shutil.rmtree(self.root / collection_id, ignore_errors=True)


def write_atomic(target: Path, data: bytes | BinaryIO) -> None:
    """Write through a temp file and rename: a reader never sees half a file.

    `data` is the bytes or a file to copy from its current position (an upload spooled to disk
    is copied in chunks, never read whole)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            if isinstance(data, bytes | bytearray):
                fh.write(data)
            else:
                shutil.copyfileobj(data, fh, COPY_CHUNK)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise

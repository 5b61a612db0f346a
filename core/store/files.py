"""Record files on the local filesystem: `<data>/storage/<collectionId>/<recordId>/<filename>`."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

SAFE_PART = re.compile(r"^[A-Za-z0-9_.\-]+$")


class FileStorage:
    def __init__(self, root: Path):
        self.root = root

    def path(self, collection_id: str, record_id: str, name: str) -> Path:
        for part in (collection_id, record_id, name):
            if not SAFE_PART.match(part) or part in (".", ".."):
                raise ValueError("unsafe file path")
        return self.root / collection_id / record_id / name

    def save(self, collection_id: str, record_id: str, name: str, data: bytes) -> None:
        target = self.path(collection_id, record_id, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    def exists(self, collection_id: str, record_id: str, name: str) -> bool:
        try:
            return self.path(collection_id, record_id, name).is_file()
        except ValueError:
            return False

    def delete(self, collection_id: str, record_id: str, name: str) -> None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            self.path(collection_id, record_id, name).unlink()

    def delete_record(self, collection_id: str, record_id: str) -> None:
        if SAFE_PART.match(collection_id) and SAFE_PART.match(record_id):
            shutil.rmtree(self.root / collection_id / record_id, ignore_errors=True)

    def delete_collection(self, collection_id: str) -> None:
        if SAFE_PART.match(collection_id):
            shutil.rmtree(self.root / collection_id, ignore_errors=True)

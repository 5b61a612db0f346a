"""Record files under `--ha`: a JetStream object store bucket (`<stream>_files`) behind every
node's local `storage/`.

- A write group's new files are uploaded before its entry is appended, so no node ever applies
  a record that names a file the bucket lacks;
- a node serves from its local copy and fetches a file it lacks on first request;
- a file removed from a record is removed from every node's local storage when the entry is
  applied, and from the bucket by the node that wrote the entry;
- thumbnails stay local (made on demand from the original, as without `--ha`).
Object names are `<collectionId>/<recordId>/<filename>`, the storage layout itself.
"""

from __future__ import annotations

import logging
from pathlib import Path

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext, api
from nats.js.object_store import ObjectStore

from core.ha.changelog import ChangelogError, wait_for_leader
from core.store.files import FileStorage, write_atomic

log = logging.getLogger("core.ha")


def bucket_name(stream: str) -> str:
    return f"{stream}_files"


def object_name(collection_id: str, record_id: str, name: str) -> str:
    return f"{collection_id}/{record_id}/{name}"


class FileBucket:
    def __init__(self, js: JetStreamContext, stream: str, replicas: int) -> None:
        self.js = js
        self.name = bucket_name(stream)
        self.replicas = replicas
        self._store: ObjectStore | None = None

    async def store(self) -> ObjectStore:
        if self._store is None:
            try:
                self._store = await self.js.object_store(self.name)
            except nats.js.errors.BucketNotFoundError:
                config = api.ObjectStoreConfig(
                    bucket=self.name, storage=api.StorageType.FILE, replicas=self.replicas
                )
                try:
                    self._store = await self.js.create_object_store(self.name, config)
                except nats.js.errors.BadRequestError:  # another node created it meanwhile
                    self._store = await self.js.object_store(self.name)
                await wait_for_leader(self.js, f"OBJ_{self.name}")
        return self._store

    async def upload(self, path: Path, key: str) -> None:
        store = await self.store()
        try:
            with path.open("rb") as f:
                await store.put(key, f)  # type: ignore[arg-type]  # read in chunks
        except (nats.errors.Error, TimeoutError) as exc:
            raise ChangelogError(f"file upload {key}: {exc}") from None

    async def fetch(self, key: str, dest: Path) -> bool:
        """The object at `dest` (written atomically); False if the bucket has no such file."""
        store = await self.store()
        part = dest.with_name(f".{dest.name}.fetch")
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with part.open("wb") as f:
                await store.get(key, writeinto=f)  # type: ignore[arg-type]
            with part.open("rb") as f:
                write_atomic(dest, f)
            return True
        except nats.js.errors.ObjectNotFoundError:
            return False
        except (nats.errors.Error, TimeoutError) as exc:
            raise ChangelogError(f"file fetch {key}: {exc}") from None
        finally:
            part.unlink(missing_ok=True)

    async def remove(self, keys: list[str], prefixes: list[str]) -> None:
        """Delete objects by name and by `<collection>/<record>/` prefix (a deleted record)."""
        store = await self.store()
        names = list(keys)
        if prefixes:
            try:
                listed = await store.list()
            except nats.js.errors.NotFoundError:
                listed = []
            names += [info.name for info in listed if any(str(info.name).startswith(p) for p in prefixes)]
        for name in names:
            try:
                await store.delete(name)
            except nats.js.errors.NotFoundError:
                pass
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("HA: could not remove %s from the file bucket: %s", name, exc)

    async def upload_all(self, storage: FileStorage) -> int:
        """Every file of a local storage dir (the first node's files, when it creates the stream)."""
        count = 0
        if not storage.root.is_dir():
            return 0
        for path in storage.root.glob("*/*/*"):
            if path.is_file() and not path.name.startswith("."):
                collection_id, record_id = path.parent.parent.name, path.parent.name
                await self.upload(path, object_name(collection_id, record_id, path.name))
                count += 1
        return count

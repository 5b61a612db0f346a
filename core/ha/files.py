"""Record files under `--ha`: a JetStream object store bucket (`<stream>_files`) behind every
node's local `storage/`.

- A write group's new files are uploaded before its entry is appended, so no node ever applies
  a record that names a file the bucket lacks;
- a node serves from its local copy and fetches a file it lacks on first request;
- a file removed from a record is removed from every node's local storage when the entry is
  applied, and from the bucket by the node that wrote the entry;
- thumbnails stay local (made on demand from the original, as without `--ha`);
- removals from the bucket are not waited for (a file left behind only costs space), and an
  upload whose entry never made it to the log (a 503 after the upload) leaves its object
  behind: the snapshotting node sweeps the bucket now and then (`sweep`) and deletes the
  objects no record references any more. An object younger than the grace period is never
  swept, whatever the records say: its entry may not be applied yet.
Object names are `<collectionId>/<recordId>/<filename>`, the storage layout itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import apsw
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext, api
from nats.js.object_store import ObjectStore

from core.ha.changelog import ChangelogError, wait_for_leader
from core.ha.snapshot import uploaded_at
from core.store.collections import SELECT_COLLECTIONS, row_to_collection
from core.store.ddl import quote
from core.store.fields import field_type
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

    async def fetch_missing(self, storage: FileStorage, names: set[str]) -> int:
        """Every object of `names` this node lacks in `storage`, fetched; how many."""
        count = 0
        for name in sorted(names):
            collection_id, record_id, filename = name.split("/", 2)
            dest = storage.path(collection_id, record_id, filename)
            if not dest.is_file() and await self.fetch(name, dest):
                count += 1
        return count

    async def sweep(self, referenced: Callable[[], Awaitable[set[str]]], grace: float) -> int:
        """Delete the objects older than `grace` seconds that `referenced()` (the object names
        the records name) leaves out; how many. The listing comes first: what is referenced by
        the time the records are read is kept."""
        store = await self.store()
        try:
            listed = await store.list(ignore_deletes=True)
        except nats.js.errors.NotFoundError:
            return 0
        cutoff = time.time() - grace
        # an object of unknown age is kept: nothing proves its entry was applied
        old = [str(info.name) for info in listed if 0 < uploaded_at(info) < cutoff]
        if not old:
            return 0
        keep = await referenced()
        orphans = [name for name in old if name not in keep]
        await self.remove(orphans, [])
        return len(orphans)


def referenced_files(conn: apsw.Connection) -> set[str]:
    """The object name of every file a record names, in one read transaction of `conn`."""
    names: set[str] = set()
    for row in conn.execute(SELECT_COLLECTIONS).fetchall():
        collection = row_to_collection(row)
        fields = [f for f in collection.fields if f.type == "file"]
        if collection.is_view or not fields:
            continue  # a view's files belong to the collection it selects from
        columns = ", ".join(quote(f.name) for f in fields)
        for values in conn.execute(f"SELECT `id`, {columns} FROM {quote(collection.name)}"):
            record_id = str(values[0])
            for f, raw in zip(fields, values[1:], strict=True):
                stored = field_type("file").from_db(f, raw)
                for name in stored if isinstance(stored, list) else [stored]:
                    if name:
                        names.add(object_name(collection.id, record_id, str(name)))
    return names

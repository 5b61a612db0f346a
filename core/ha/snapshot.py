"""Snapshots of `data.db` in a JetStream object store, so that a node can join (or catch up after
the stream aged past it) without the whole log.

A snapshot is a consistent copy made with `VACUUM INTO` (one read transaction: a state some
prefix of the log produced); the sequence it stands for is inside it, in `_ha_state`, so the
file describes itself and no metadata can disagree with it. The object's headers repeat the
sequence and the stream's identity, to pick the newest one without downloading it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import apsw
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext, api
from nats.js.object_store import ObjectStore

from core.ha.applier import State, read_state
from core.ha.changelog import ChangelogError, wait_for_leader

OBJECT = "data.db"
SEQ_HEADER = "Core-Seq"
STREAM_HEADER = "Core-Stream"


class SnapshotError(Exception):
    pass


@dataclass(frozen=True)
class SnapshotInfo:
    stream: str
    seq: int
    size: int
    at: float = 0.0  # when it was uploaded (Unix time, the uploader's clock; 0: unknown)


def bucket_name(stream: str) -> str:
    return f"{stream}_snapshots"


async def bucket(js: JetStreamContext, stream: str, replicas: int) -> ObjectStore:
    name = bucket_name(stream)
    try:
        return await js.object_store(name)
    except nats.js.errors.BucketNotFoundError:
        pass
    config = api.ObjectStoreConfig(bucket=name, storage=api.StorageType.FILE, replicas=replicas)
    try:
        store = await js.create_object_store(name, config)
    except (nats.errors.Error, TimeoutError) as exc:
        raise ChangelogError(f"cannot create the snapshot bucket {name}: {exc}") from None
    await wait_for_leader(js, f"OBJ_{name}")
    return store


def vacuum_into(source: Path, dest: Path) -> None:
    """A consistent, compacted copy of `source` (which may be in use) at `dest`."""
    with contextlib.suppress(FileNotFoundError):
        dest.unlink()
    conn = apsw.Connection(str(source), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        conn.execute("VACUUM INTO ?", (str(dest),))
    finally:
        conn.close()


def copy_database(source: Path, dest: Path) -> State:
    """A consistent, compacted copy of `source` at `dest`; the state it stands for."""
    vacuum_into(source, dest)
    return _state_of(dest)


def _state_of(path: Path) -> State:
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        if conn.execute("PRAGMA quick_check").fetchone() != ("ok",):
            raise SnapshotError(f"{path.name}: the copy is damaged")
        state = read_state(conn)
    finally:
        conn.close()
    if state is None:
        raise SnapshotError(f"{path.name}: not derived from a changelog")
    return state


async def upload(store: ObjectStore, path: Path, state: State) -> SnapshotInfo:
    meta = api.ObjectMeta(name=OBJECT, headers={SEQ_HEADER: str(state.seq), STREAM_HEADER: state.stream})
    with path.open("rb") as f:
        try:
            info = await store.put(OBJECT, f, meta=meta)  # type: ignore[arg-type]  # a binary file is read in chunks
        except (nats.errors.Error, TimeoutError) as exc:
            raise ChangelogError(f"snapshot upload: {exc}") from None
    return SnapshotInfo(state.stream, state.seq, int(info.size or 0))


async def newest(store: ObjectStore) -> SnapshotInfo | None:
    try:
        info = await store.get_info(OBJECT)
    except nats.js.errors.ObjectNotFoundError:
        return None
    except (nats.errors.Error, TimeoutError) as exc:
        raise ChangelogError(f"snapshot lookup: {exc}") from None
    headers = info.headers or {}
    try:
        return SnapshotInfo(
            str(headers[STREAM_HEADER]), int(headers[SEQ_HEADER]), int(info.size or 0), uploaded_at(info)
        )
    except (KeyError, ValueError):
        raise SnapshotError("the newest snapshot has no sequence header") from None


def uploaded_at(info: api.ObjectInfo) -> float:
    """When an object was put (nats-py writes the uploader's clock into its meta), 0 if unknown."""
    try:
        return datetime.fromisoformat(str(info.mtime)).timestamp() if info.mtime else 0.0
    except ValueError:
        return 0.0


async def download(store: ObjectStore, dest: Path) -> State:
    """The newest snapshot, checked, at `dest` (written beside it first, then renamed)."""
    part = dest.with_name(dest.name + ".part")
    try:
        with part.open("wb") as f:
            await store.get(OBJECT, writeinto=f)  # type: ignore[arg-type]
        state = await asyncio.to_thread(_state_of, part)
        os.replace(part, dest)
    except (nats.errors.Error, TimeoutError) as exc:
        raise ChangelogError(f"snapshot download: {exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return state


async def take(js: JetStreamContext, stream: str, replicas: int, data_db: Path) -> SnapshotInfo:
    """Copy `data_db` as it is now (it may be in use) and upload the copy as the newest snapshot."""
    store = await bucket(js, stream, replicas)
    tmp = data_db.with_name(f".snapshot-{secrets.token_hex(4)}.db")
    try:
        state = await asyncio.to_thread(copy_database, data_db, tmp)
        return await upload(store, tmp, state)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()

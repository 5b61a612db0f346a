"""One `--ha` node: how its `data.db` comes to derive from the stream, and what it runs meanwhile.

Start-up decides, before the store opens, which of these this data dir is:
- the stream does not exist yet: this node creates it, and the data it has (an existing
  single-node install, or the empty bootstrap) becomes snapshot 0, so moving to `--ha` needs no
  export;
- no `data.db` yet, or one older than what the stream still holds: the newest snapshot is
  restored, then the log is replayed from its sequence;
- a `data.db` derived from this stream: replay from its applied sequence;
- anything else (data not derived from this stream): refused, naming `core ha reset`, because
  merging two histories silently is how replicas diverge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import apsw
import nats.errors
from nats.js import JetStreamContext
from nats.js.object_store import ObjectStore

from core.app import App
from core.config import ConfigError
from core.ha import snapshot
from core.ha.applier import Mode, State, read_state, start_state
from core.ha.changelog import Changelog, ChangelogError, StreamSettings, settled
from core.ha.files import FileBucket, object_name
from core.ha.replicator import Replicator, after_apply
from core.ha.restore import RestoreApplier
from core.ha.upkeep import Upkeep
from core.store import ddl

log = logging.getLogger("core.ha")

IDENTITY_KEY = "core_stream_id"
SNAPSHOT_WAIT = 60.0  # how long a node waits for the first node's snapshot 0


class HaStartError(ConfigError):
    """This data dir cannot join the stream as it is; the message says what to do."""


@dataclass(frozen=True)
class HaSettings:
    node: str
    stream: StreamSettings
    mode: Mode = Mode.SERIALIZABLE
    timeout: float = 5.0
    region: str = ""
    # a snapshot after this many entries or this many seconds (whichever first; 0: never)
    snapshot_entries: int = 10_000
    snapshot_seconds: float = 3600.0
    # entries kept in the stream below the newest snapshot, so that a node a little behind
    # replays instead of downloading a snapshot
    retain_entries: int = 10_000
    status_interval: float = 2.0
    # how long a node with an empty data dir waits for another node to create the stream
    create_delay: float = 10.0
    # seconds an object of the file bucket is kept even when no record names it (its entry may
    # not be applied yet); older ones are swept after each snapshot
    orphan_grace: float = 3600.0


class HaNode:
    def __init__(self, settings: HaSettings, js: JetStreamContext) -> None:
        self.settings = settings
        self.js = js
        self.changelog = Changelog(js, settings.stream)
        self.replicator: Replicator | None = None
        self.upkeep: Upkeep | None = None
        self.files = FileBucket(js, settings.stream.name, settings.stream.replicas)
        self.identity = ""

    async def open(self, app: App, *, leader: bool = True) -> None:
        """Bring `app`'s data dir in line with the stream, open the app, start applying.

        A `--workers` follower (`leader` False) shares the leader's data dir, which the leader
        has brought in line already: it only applies and publishes; the leader alone reports
        status and takes snapshots.
        """
        data_db = app.store.db.path
        local, has_data = await asyncio.to_thread(_local_state, data_db)
        if not has_data:
            # a node with data (a single-node install moving to --ha) must be the one that
            # creates the stream: an empty node gives it time to, before creating it itself
            await self._wait_for_stream(self.settings.create_delay)
        identity = secrets.token_hex(8)
        info, created = await settled(
            "the changelog stream", lambda: self.changelog.ensure({IDENTITY_KEY: identity})
        )
        self.identity = str((info.config.metadata or {}).get(IDENTITY_KEY, ""))
        stream = self.settings.stream
        bucket = await settled(
            "the snapshot bucket", lambda: snapshot.bucket(self.js, stream.name, stream.replicas)
        )
        # made now, not by the first upload: nodes racing to create it on their first uploads
        # got requests unanswered for the request timeout while its replicas formed (503s)
        await settled("the file bucket", self.files.store)
        first_seq = int(info.state.first_seq or 1)
        if not leader:
            if local is None or local.stream != self.identity:
                raise HaStartError(f"{data_db}: the leader has not joined stream {self.settings.stream.name}")
        elif created:
            await asyncio.to_thread(app.open)  # this node's data becomes the stream's beginning
            await app.store.db.write(lambda ctx: start_state(ctx.conn, self.identity, 0))
            await settled("snapshot 0", lambda: self.snapshot(app))
            uploaded = await settled("the files", lambda: self.files.upload_all(app.store.storage))
            if uploaded:
                log.info("HA: %d existing file(s) copied to the file bucket", uploaded)
            log.info("HA: created stream %s from this node's data", self.settings.stream.name)
        else:
            if local is None or (local.stream == self.identity and local.seq < first_seq - 1):
                if local is None and has_data:
                    raise _foreign(data_db, self.settings.stream.name)
                await self._restore(bucket, data_db, first_seq)
            elif local.stream != self.identity:
                raise _foreign(data_db, self.settings.stream.name)
        replicator = Replicator(
            self.changelog,
            asyncio.get_running_loop(),
            node=self.settings.node,
            mode=self.settings.mode,
            timeout=self.settings.timeout,
            on_applied=after_apply(app.store),
            files=self.files,
            storage=app.store.storage,
        )
        replicator.restore = RestoreApplier(
            self.js,
            self.settings.stream,
            replicator.loop,
            app.store.storage,
            app.store.dir,
            self.settings.timeout,
        )
        if not created:
            # the store's own start-up writes (settings from the environment) go through the log
            app.store.db.replicator = replicator
            await asyncio.to_thread(app.open)
        await replicator.start(app.store.db)
        self.replicator = replicator
        if leader:
            newest = await settled("the newest snapshot", lambda: snapshot.newest(bucket))
            self.upkeep = Upkeep(self, app)
            self.upkeep.start(newest.seq if newest else 0)

    def applied(self) -> int:
        return self.replicator.applied if self.replicator is not None else 0

    async def wait_applied(self, seq: int) -> bool:
        return self.replicator is not None and await self.replicator.wait_applied(seq)

    async def fetch_file(self, collection_id: str, record_id: str, name: str, dest: Path) -> bool:
        """A record file this node lacks, from the bucket into its local storage."""
        try:
            return await self.files.fetch(object_name(collection_id, record_id, name), dest)
        except ChangelogError as exc:
            log.warning("HA: %s", exc)
            return False

    def problem(self) -> str | None:
        """Why this node cannot serve as part of the cluster right now (None: it can)."""
        if self.replicator is not None and self.replicator.stalled:
            return f"stopped applying the changelog: {self.replicator.stalled}"
        return None

    async def close(self) -> None:
        if self.upkeep is not None:
            await self.upkeep.stop()
        if self.replicator is not None:
            await self.replicator.stop()

    async def snapshot(self, app: App) -> snapshot.SnapshotInfo:
        stream = self.settings.stream
        return await snapshot.take(self.js, stream.name, stream.replicas, app.store.db.path)

    async def _wait_for_stream(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            try:
                await self.js.stream_info(self.settings.stream.name)
                return
            except (nats.errors.Error, TimeoutError):
                await asyncio.sleep(0.25)

    async def _restore(self, bucket: ObjectStore, data_db: Path, first_seq: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SNAPSHOT_WAIT
        while (found := await settled("the newest snapshot", lambda: snapshot.newest(bucket))) is None:
            if loop.time() > deadline:
                raise HaStartError(
                    f"no snapshot of stream {self.settings.stream.name} appeared in {SNAPSHOT_WAIT:.0f}s"
                )
            await asyncio.sleep(0.5)  # the node that created the stream is still uploading it
        if found.stream != self.identity:
            raise HaStartError(
                f"the newest snapshot belongs to another stream than {self.settings.stream.name}"
            )
        if found.seq < first_seq - 1:
            raise HaStartError(
                f"the newest snapshot (entry {found.seq}) is older than the stream's first entry ({first_seq}): "
                "take a snapshot on a node that is up to date (`core ha snapshot`)"
            )
        data_db.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{data_db}{suffix}")
        state = await settled("the snapshot download", lambda: snapshot.download(bucket, data_db))
        log.info("HA: restored snapshot at entry %d (%d bytes)", state.seq, found.size)


def _local_state(data_db: Path) -> tuple[State | None, bool]:
    """The stream state of `data_db`, and whether it holds any data (the data dir's set-up may
    have created an empty file)."""
    if not data_db.exists() or data_db.stat().st_size == 0:
        return None, False
    conn = apsw.Connection(str(data_db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return read_state(conn), ddl.table_exists(conn, "_collections")
    finally:
        conn.close()


def _foreign(data_db: Path, stream: str) -> HaStartError:
    return HaStartError(
        f"{data_db} is not derived from stream {stream}; "
        f"`core ha reset --dir {data_db.parent.parent}` moves it aside so that this node joins from a snapshot"
    )

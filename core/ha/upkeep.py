"""What every `--ha` node does in the background: report its status, take snapshots, trim the log.

- Status: each node writes `{applied, region, mode, stalled, at}` to the KV bucket
  `<stream>_nodes` under its name; `core ha status` reads every node's from there.
- Snapshots: after `snapshot_entries` entries or `snapshot_seconds`, one node at a time (the
  holder of the key `snapshot` in the bucket `<stream>_lease`, whose entries expire, so a node
  that dies holding it does not block the others for long) uploads a snapshot.
- Trimming: after its upload, the snapshotting node purges the entries older than the snapshot
  minus `retain_entries`. Nothing newer than the newest snapshot is ever dropped, so a node can
  always rebuild from the snapshot and what follows it.
- Sweeping, under the same lease, after the snapshot: the backup restore objects no entry in
  the stream needs (core/ha/restore.py), and the file bucket's objects that no record references
  any more and that are older than `orphan_grace` (core/ha/files.py), on a node that has applied
  everything it knows of (a node behind would not see the records that name the newest files).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue

from core.ha import restore, snapshot
from core.ha.applier import read_state
from core.ha.changelog import ChangelogError, wait_for_leader
from core.ha.files import referenced_files
from core.ha.kv import across_domain

if TYPE_CHECKING:
    from core.app import App
    from core.ha.node import HaNode

log = logging.getLogger("core.ha")

LEASE_KEY = "snapshot"
LEASE_SECONDS = 120.0


def nodes_bucket(stream: str) -> str:
    return f"{stream}_nodes"


def lease_bucket(stream: str) -> str:
    return f"{stream}_lease"


async def key_value(js: JetStreamContext, name: str, replicas: int, ttl: float | None = None) -> KeyValue:
    try:
        return across_domain(await js.key_value(name), js)
    except nats.js.errors.BucketNotFoundError:
        pass
    config = api.KeyValueConfig(
        bucket=name, history=1, ttl=ttl, storage=api.StorageType.FILE, replicas=replicas
    )
    try:
        kv = await js.create_key_value(config)
    except nats.js.errors.BadRequestError:  # another node created it meanwhile
        return across_domain(await js.key_value(name), js)
    await wait_for_leader(js, f"KV_{name}")
    return across_domain(kv, js)


@dataclass
class NodeStatus:
    node: str
    region: str
    mode: str
    applied: int
    stalled: str | None
    at: float
    # since this node started: serializable appends refused because another node came first,
    # and last-writer-wins conflicts per table (None in reports of nodes that predate them)
    retries: int | None = 0
    conflicts: dict[str, int] | None = None

    @classmethod
    def from_json(cls, raw: bytes) -> NodeStatus:
        data: dict[str, Any] = json.loads(raw)
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


class Upkeep:
    def __init__(self, node: HaNode, app: App) -> None:
        self.node = node
        self.app = app
        self.settings = node.settings
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._last_snapshot_seq = 0
        self._last_snapshot_at = time.monotonic()
        self.orphans_deleted = 0  # objects of the file bucket swept by this node (metrics)

    def start(self, snapshot_seq: int) -> None:
        self._last_snapshot_seq = snapshot_seq
        self._task = asyncio.create_task(self._run(), name="ha upkeep")

    async def stop(self) -> None:
        # an event as well as the cancellation: nats-py swallows a CancelledError that arrives
        # while a publish waits for its flush, and the loop would then go on forever
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await asyncio.wait_for(self._task, 10)
            except (asyncio.CancelledError, TimeoutError):
                pass
            self._task = None

    async def _run(self) -> None:
        stream = self.settings.stream
        nodes = await key_value(self.node.js, nodes_bucket(stream.name), stream.replicas)
        while not self._stopping.is_set():
            try:
                applied = await self._report(nodes)
                if self._snapshot_due(applied):
                    await self.snapshot_under_lease(applied)
            except (ChangelogError, snapshot.SnapshotError, nats.errors.Error, TimeoutError) as exc:
                log.warning("HA upkeep: %s", exc)  # the next round tries again
            try:
                await asyncio.wait_for(self._stopping.wait(), self.settings.status_interval)
            except TimeoutError:
                pass

    async def _report(self, nodes: KeyValue) -> int:
        state = await self.app.store.db.read(read_state)
        applied = state.seq if state else 0
        replicator = self.node.replicator
        status = NodeStatus(
            node=self.settings.node,
            region=self.settings.region,
            mode=self.settings.mode.value,
            applied=applied,
            stalled=replicator.stalled if replicator else None,
            at=time.time(),
            retries=replicator.retries if replicator else 0,
            conflicts=dict(replicator.conflicts) if replicator else {},
        )
        await nodes.put(self.settings.node, json.dumps(status.__dict__).encode())
        return applied

    def _snapshot_due(self, applied: int) -> bool:
        if applied <= self._last_snapshot_seq:
            return False
        s = self.settings
        by_count = s.snapshot_entries > 0 and applied - self._last_snapshot_seq >= s.snapshot_entries
        by_time = s.snapshot_seconds > 0 and time.monotonic() - self._last_snapshot_at >= s.snapshot_seconds
        return by_count or by_time

    async def _sweep(self) -> None:
        stream = self.settings.stream
        first_seq = int((await self.node.js.stream_info(stream.name)).state.first_seq or 1)
        bucket = await snapshot.bucket(self.node.js, stream.name, stream.replicas)
        if forgotten := await restore.forget_replayed(bucket, first_seq):
            log.info("HA: %d backup restore object(s) no entry in the stream needs were deleted", forgotten)
        replicator = self.node.replicator
        if replicator is None or replicator.stalled or replicator.applied < replicator.known_last:
            return  # the next snapshot's sweep does it
        swept = await self.node.files.sweep(
            lambda: self.app.store.db.read(referenced_files), self.settings.orphan_grace
        )
        self.orphans_deleted += swept
        if swept:
            log.info("HA: %d file(s) no record references were deleted from the file bucket", swept)

    async def snapshot_under_lease(self, applied: int) -> snapshot.SnapshotInfo | None:
        """Take a snapshot unless another node is taking one; then trim the log below it."""
        stream = self.settings.stream
        lease = await key_value(self.node.js, lease_bucket(stream.name), stream.replicas, ttl=LEASE_SECONDS)
        try:
            await lease.create(LEASE_KEY, self.settings.node.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            return None  # someone else is at it; their snapshot serves us too
        try:
            newest = await snapshot.newest(await snapshot.bucket(self.node.js, stream.name, stream.replicas))
            if newest is not None and newest.seq >= applied:
                taken = newest
            else:
                taken = await self.node.snapshot(self.app)
                log.info("HA: snapshot at entry %d (%d bytes)", taken.seq, taken.size)
            self._last_snapshot_seq = taken.seq
            self._last_snapshot_at = time.monotonic()
            keep_from = taken.seq + 1 - self.settings.retain_entries
            if keep_from > 1:
                await self.node.js.purge_stream(stream.name, seq=keep_from)
            await self._sweep()
            return taken
        finally:
            try:
                await lease.delete(LEASE_KEY)
            except (nats.errors.Error, TimeoutError):
                pass  # it expires on its own

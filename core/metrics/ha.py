"""The `--ha` series, read from the node when scraped (nothing on the write path keeps them,
except the apply times, which the replicator hands over as they happen)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats.errors

from core.ha import snapshot
from core.ha.applier import read_state
from core.ha.changelog import ChangelogError
from core.metrics.registry import Histogram, Registry

APPLY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
SNAPSHOT_LOOKUP_TIMEOUT = 2.0
SNAPSHOT_LOOKUP_EVERY = 15.0  # seconds between lookups of the newest snapshot (a JetStream request)


class HaMetrics:
    def __init__(self, node: Any) -> None:
        self.node = node
        self.apply_time = Histogram(
            "core_ha_apply_seconds", "Time to apply one changelog entry to data.db.", buckets=APPLY_BUCKETS
        )
        self._snapshot: snapshot.SnapshotInfo | None = None
        self._snapshot_checked = -SNAPSHOT_LOOKUP_EVERY

    def attach(self) -> None:
        """Start timing the applies of the node's replicator."""
        replicator = self.node.replicator
        if replicator is not None:
            replicator.on_apply = self.apply_time.observe

    async def collect(self, app: Any) -> Registry:
        reg = Registry()
        replicator = self.node.replicator
        settings = self.node.settings
        mode = settings.mode.value
        info = reg.gauge(
            "core_ha_node_info",
            "This node's name, region and write mode (always 1).",
            ("node", "region", "mode"),
        )
        info.set(1, settings.node, settings.region, mode)
        applied = replicator.applied if replicator else 0
        known = max(replicator.known_last if replicator else 0, applied)
        reg.gauge("core_ha_applied_sequence", "The last changelog entry applied to data.db.").set(applied)
        reg.gauge("core_ha_stream_last_sequence", "The last changelog entry this node knows of.").set(known)
        reg.gauge("core_ha_lag_messages", "Entries in the changelog this node has not applied yet.").set(
            known - applied
        )
        reg.gauge(
            "core_ha_lag_seconds", "How long the oldest entry this node has not applied yet has been waiting."
        ).set(_lag_seconds(replicator, applied))
        stalled = replicator.stalled if replicator else None
        reg.gauge(
            "core_ha_stalled", "1 when this node stopped applying the changelog (health answers 503)."
        ).set(1 if stalled else 0)
        retries = replicator.retries if replicator else 0
        reg.counter(
            "core_ha_publish_retries_total",
            "Serializable appends refused because another node appended first (the group ran again).",
        ).set_total(retries)
        conflicts = reg.counter(
            "core_ha_conflicts_total",
            "Write conflicts by mode: serializable counts refused appends (resolved by running the group "
            "again); last-writer-wins counts rows replaced or dropped while applying, per collection.",
            ("mode", "collection"),
        )
        conflicts.set_total(retries, "serializable", "")
        for table, count in sorted((replicator.conflicts if replicator else {}).items()):
            conflicts.set_total(count, "last-writer-wins", table)
        reg.counter(
            "core_ha_replays_total",
            "Last-writer-wins groups whose entry came back through the log to be applied.",
        ).set_total(replicator.replays if replicator else 0)
        state = await app.store.db.read(read_state)
        reg.counter(
            "core_ha_skipped_messages_total",
            "Messages on the changelog subject that were not core entries (skipped).",
        ).set_total(state.skipped if state else 0)
        reg.add(self.apply_time)
        upkeep = self.node.upkeep
        reg.counter(
            "core_ha_orphaned_files_deleted_total",
            "Objects of the file bucket no record named any more, deleted by this node's sweeps.",
        ).set_total(upkeep.orphans_deleted if upkeep else 0)
        newest = await self._newest_snapshot()
        age = reg.gauge(
            "core_ha_snapshot_age_seconds",
            "Age of the newest snapshot in the object store (absent: none yet).",
        )
        if newest is not None and newest.at:
            age.set(max(0.0, time.time() - newest.at))
        else:
            age.values.clear()
        reg.gauge("core_ha_snapshot_sequence", "The changelog entry the newest snapshot stands for.").set(
            newest.seq if newest else 0
        )
        return reg

    async def _newest_snapshot(self) -> snapshot.SnapshotInfo | None:
        now = time.monotonic()
        if now - self._snapshot_checked < SNAPSHOT_LOOKUP_EVERY:
            return self._snapshot
        self._snapshot_checked = now
        stream = self.node.settings.stream
        try:
            async with asyncio.timeout(SNAPSHOT_LOOKUP_TIMEOUT):
                bucket = await snapshot.bucket(self.node.js, stream.name, stream.replicas)
                self._snapshot = await snapshot.newest(bucket)
        except (ChangelogError, snapshot.SnapshotError, nats.errors.Error, TimeoutError):
            pass  # the last answer stands; the next scrape asks again
        return self._snapshot


def _lag_seconds(replicator: Any, applied: int) -> float:
    if replicator is None:
        return 0.0
    waiting = [at for seq, at in list(replicator.arrived.items()) if seq > applied]
    return max(0.0, time.monotonic() - min(waiting)) if waiting else 0.0

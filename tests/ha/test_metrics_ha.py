"""`core serve --ha --metrics-http`: the replication series of a real node, scraped and parsed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from core.nats.auth import SERVICE_CREDS, AuthStore
from core.nats.client import connect
from tests.metrics.exposition import Samples, names, scrape, value
from tests.servers import free_port, start_core, superuser_client

pytestmark = pytest.mark.slow

HA_SERIES = {
    "core_ha_applied_sequence",
    "core_ha_stream_last_sequence",
    "core_ha_lag_messages",
    "core_ha_lag_seconds",
    "core_ha_stalled",
    "core_ha_publish_retries_total",
    "core_ha_conflicts_total",
    "core_ha_skipped_messages_total",
    "core_ha_apply_seconds_count",
    "core_ha_snapshot_age_seconds",
}


async def _publish_garbage(data_dir: Path, nats_port: int) -> None:
    store = AuthStore(data_dir / "nats-auth")
    creds = store.user_creds(store.load().internal_account, SERVICE_CREDS, "core")
    nc = await connect(f"nats://127.0.0.1:{nats_port}", creds, name="test", source="test", timeout=5)
    try:
        await nc.jetstream().publish("pb.changes", b"not a changelog entry", stream="pb")
    finally:
        await nc.close()


def _until(url: str, check: str, ok: object) -> Samples:
    deadline = time.monotonic() + 20
    while True:
        _, samples = scrape(url)
        if ok(samples):  # type: ignore[operator]
            return samples
        assert time.monotonic() < deadline, f"not within 20s: {check}"
        time.sleep(0.2)


def test_ha_series_follow_writes_and_skipped_messages(tmp_path: Path) -> None:
    nats_port, metrics_port = free_port(), free_port()
    data = tmp_path / "one"
    server = start_core(
        data,
        extra_args=[
            "--ha",
            "--nats-port",
            str(nats_port),
            "--nats-monitor-port",
            "0",
            "--metrics-http",
            f"127.0.0.1:{metrics_port}",
        ],
    )
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        types, before = scrape(url)
        assert names(before) >= HA_SERIES, HA_SERIES - names(before)
        assert types["core_ha_apply_seconds"] == "histogram"
        assert value(before, "core_ha_stalled") == 0
        assert value(before, "core_ha_node_info", mode="serializable") == 1
        http = superuser_client(server)
        try:
            made = http.post(
                "/api/collections", json={"name": "notes", "fields": [{"name": "t", "type": "text"}]}
            )
            assert made.status_code == 200, made.text
            seq = int(made.headers["x-core-seq"])
        finally:
            http.close()
        after = _until(url, "the write's sequence", lambda s: value(s, "core_ha_applied_sequence") >= seq)
        assert value(after, "core_ha_lag_messages") == 0
        assert value(after, "core_ha_snapshot_age_seconds") >= 0  # snapshot 0, taken at creation
        asyncio.run(_publish_garbage(data, nats_port))
        skipped = _until(url, "a skipped message", lambda s: value(s, "core_ha_skipped_messages_total") == 1)
        assert value(skipped, "core_ha_applied_sequence") == seq + 1
        # the garbage came through the log, so its (skipping) apply was timed
        assert value(skipped, "core_ha_apply_seconds_count") >= 1
        assert value(skipped, "core_ha_stalled") == 0
    finally:
        server.stop()

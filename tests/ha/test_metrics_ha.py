"""`core serve --ha --metrics-http`: the replication series of a real node, scraped and parsed."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.ha.applier import Mode
from core.metrics.ha import HaMetrics
from core.nats.auth import SERVICE_CREDS, AuthStore
from core.nats.client import connect
from tests.ha import test_node
from tests.ha.test_node import _same, cluster
from tests.metrics.exposition import Samples, names, parse, scrape, value
from tests.servers import free_port, start_core, superuser_client

__all__ = ["cluster"]  # the fixture, shared with test_node.py

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


@pytest.mark.slow
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


@pytest.mark.parametrize("mode", [Mode.SERIALIZABLE, Mode.LAST_WRITER_WINS], ids=lambda m: m.value)
async def test_races_show_as_retries_or_conflicts_per_collection(
    cluster: Any, fixture_dir: Path, tmp_path: Path, mode: Mode
) -> None:
    """Two in-process nodes on one real nats-server update one record at once: serializable
    counts the refused appends, last-writer-wins the rows it replaced, per collection."""
    shutil.copytree(fixture_dir, tmp_path / "a")
    a_app, a_node = await cluster("a", tmp_path / "a", mode=mode)
    b_app, b_node = await cluster("b", tmp_path / "b", mode=mode)
    async with test_node.superuser_client(a_app) as a, test_node.superuser_client(b_app) as b:
        made = await a.post("/api/collections/posts/records", json={"title": "hot", "views": 0})
        assert made.status_code == 200, made.text
        url = f"/api/collections/posts/records/{made.json()['id']}"
        await _same(a_app, b_app)

        async def bump(client: httpx.AsyncClient, who: str) -> None:
            for i in range(20):
                assert (await client.patch(url, json={"title": f"{who}{i}"})).status_code == 200

        await asyncio.gather(bump(a, "a"), bump(b, "b"))
    await _same(a_app, b_app)
    texts = [(await HaMetrics(n).collect(app)).render() for n, app in ((a_node, a_app), (b_node, b_app))]
    samples = [parse(text)[1] for text in texts]
    retries = sum(value(s, "core_ha_publish_retries_total") for s in samples)
    assert retries == a_node.replicator.retries + b_node.replicator.retries
    serializable = sum(value(s, "core_ha_conflicts_total", mode="serializable") for s in samples)
    lww = sum(
        value(s, "core_ha_conflicts_total", mode="last-writer-wins", collection="posts") for s in samples
    )
    if mode is Mode.SERIALIZABLE:
        assert retries > 0 and serializable == retries and lww == 0
    else:
        assert retries == 0 and lww > 0
    for s in samples:
        assert value(s, "core_ha_node_info", mode=mode.value) == 1

"""`core serve --ha` on three real nodes under faults: kill -9 of the nats-server that leads the
stream while every node writes, a node down while the log is trimmed past it (it rejoins from a
snapshot), and a node with an empty data dir joining a running cluster. In each case every
acknowledged write ends up on every node and the nodes hold the same records."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.js.api import StreamInfo

from tests.integration.test_ha_cluster import _eventually, _ids, _nats_server_of, _writer
from tests.servers import HaNode, free_port, ha_cluster, start_all, superuser_token

pytestmark = pytest.mark.slow

SNAPSHOT_ENTRIES = 40
RETAIN_ENTRIES = 5
FLAGS = ("--ha-timeout", "2", "--ha-create-delay", "1")
SNAPSHOTS = ("--ha-snapshot-entries", str(SNAPSHOT_ENTRIES), "--ha-retain-entries", str(RETAIN_ENTRIES))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HaNode]]:
    nodes = ha_cluster(tmp_path_factory.mktemp("faults"), 3, *FLAGS, *SNAPSHOTS)
    start_all(nodes)
    yield nodes
    for node in nodes:
        if node.server is not None:
            node.server.stop()


def _nats_port(node: HaNode) -> str:
    return node.args[node.args.index("--nats-port") + 1]


async def _stream(node: HaNode) -> StreamInfo:
    """The changelog stream as `node`'s nats-server sees it (core's own credentials)."""
    creds = node.data_dir / "nats-auth" / "core.creds"
    nc = await nats.connect(f"nats://127.0.0.1:{_nats_port(node)}", user_credentials=str(creds))
    try:
        return await nc.jetstream().stream_info("pb")
    finally:
        await nc.close()


async def _same_records(clients: list[httpx.AsyncClient], token: str, expected: set[str]) -> None:
    for client in clients:

        async def complete(client: httpx.AsyncClient = client) -> bool:
            return expected <= await _ids(client, token)

        await _eventually(complete, f"every acknowledged write on {client.base_url}", timeout=60)
    # and nothing else: an unacknowledged write is on every node or on none
    assert len({frozenset(await _ids(c, token)) for c in clients}) == 1


async def test_kill9_of_the_stream_leaders_nats_server_loses_no_acknowledged_write(
    cluster: list[HaNode],
) -> None:
    clients = [httpx.AsyncClient(base_url=n.url, timeout=15) for n in cluster]
    try:
        token = await superuser_token(clients[0])
        made = await clients[0].post(
            "/api/collections",
            headers={"Authorization": token},
            json={
                "name": "events",
                "fields": [{"name": "tag", "type": "text"}],
                "indexes": ["CREATE UNIQUE INDEX idx_events_tag ON events (tag)"],
            },
        )
        assert made.status_code == 200, made.text
        for client in clients:
            await client.get("/api/health", headers={"X-Core-Min-Seq": made.headers["x-core-seq"]})
        leader = (await _stream(cluster[0])).cluster.leader  # type: ignore[union-attr]
        victim = next(n for n in cluster if n.name == leader)
        assert victim.server is not None
        acked: dict[str, list[str]] = {n.name: [] for n in cluster}
        stop = asyncio.Event()
        writers = [
            asyncio.create_task(_writer(c, token, f"{n.name}w{k}", acked[n.name], stop))
            for c, n in zip(clients, cluster, strict=True)
            for k in range(2)
        ]

        def total() -> int:
            return sum(len(v) for v in acked.values())

        await _eventually(lambda: asyncio.sleep(0, total() >= 60), "60 acknowledged writes")
        nats_pid = _nats_server_of(victim.server.pid)
        os.kill(nats_pid, signal.SIGKILL)  # the stream's leader, mid-write; core restarts it
        before, victims_before = total(), len(acked[victim.name])
        await _eventually(
            lambda: asyncio.sleep(0, total() >= before + 60), "the others elect a leader and go on"
        )
        await _eventually(
            lambda: asyncio.sleep(0, len(acked[victim.name]) >= victims_before + 20),
            "the node whose nats-server died writes again",
        )
        assert _nats_server_of(victim.server.pid) != nats_pid
        stop.set()
        await asyncio.gather(*writers)
        await _same_records(clients, token, {i for v in acked.values() for i in v})
    finally:
        for client in clients:
            await client.aclose()


async def test_a_node_down_while_the_log_is_trimmed_rejoins_from_a_snapshot(cluster: list[HaNode]) -> None:
    clients = [httpx.AsyncClient(base_url=n.url, timeout=15) for n in cluster]
    try:
        token = await superuser_token(clients[0])
        auth = {"Authorization": token}
        victim = cluster[2]
        assert victim.server is not None
        behind = int((await clients[2].get("/api/health")).headers["x-core-seq"])
        victim.server.stop()
        acked: list[str] = []
        for i in range(SNAPSHOT_ENTRIES + 2 * RETAIN_ENTRIES):
            resp = await clients[i % 2].post(
                "/api/collections/events/records", headers=auth, json={"tag": f"away{i}"}
            )
            assert resp.status_code == 200, resp.text
            acked.append(resp.json()["id"])

        async def trimmed() -> bool:
            return int((await _stream(cluster[0])).state.first_seq) > behind + 1

        await _eventually(trimmed, "a snapshot, and the log trimmed past the stopped node")
        victim.start()  # its data.db is older than the log's first entry
        assert "HA: restored snapshot" in victim.server.log_tail(200)  # type: ignore[union-attr]
        await _same_records(clients, token, set(acked))
    finally:
        for client in clients:
            await client.aclose()


async def test_a_node_with_an_empty_data_dir_joins_a_running_cluster(
    cluster: list[HaNode], tmp_path: Path
) -> None:
    first = cluster[0]
    port = free_port()
    routes = first.args[first.args.index("--nats-routes") + 1] + f",nats://127.0.0.1:{port}"
    fresh = HaNode("n3", tmp_path / "n3", routes, port, first.env["CORE_NATS_AUTH"], (*FLAGS, *SNAPSHOTS))
    fresh.start()
    clients = [httpx.AsyncClient(base_url=n.url, timeout=15) for n in (first, fresh)]
    try:
        token = await superuser_token(clients[1])  # the superuser came with the snapshot
        made = await clients[1].post(
            "/api/collections/events/records", headers={"Authorization": token}, json={"tag": "new"}
        )
        assert made.status_code == 200, made.text
        await _same_records(clients, token, {made.json()["id"]})
    finally:
        for client in clients:
            await client.aclose()
        assert fresh.server is not None
        fresh.server.stop()

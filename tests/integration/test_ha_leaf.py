"""Hub and spoke under `--ha` (the seed's topology): three `core serve --ha` nodes form the hub
cluster (JetStream domain `hub`), and a fourth runs on a leaf nats-server (`--nats-hub`) with a
JetStream domain of its own. The leaf's node keeps no changelog of its own: it writes to and
reads from the hub's stream, so it is one more node of the same cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import nats.js.errors
import pytest

from tests.integration.test_ha_cluster import ha_status
from tests.servers import (
    HaNode,
    ServerProcess,
    free_port,
    ha_cluster,
    start_all,
    start_core,
    superuser_token,
)

pytestmark = pytest.mark.slow

FLAGS = ("--ha-timeout", "5", "--ha-create-delay", "1")


@pytest.fixture
def hub_and_leaf(tmp_path: Path) -> Iterator[tuple[list[HaNode], ServerProcess]]:
    hub = ha_cluster(tmp_path / "hub", 3, *FLAGS)
    start_all(hub)
    leaf: ServerProcess | None = None
    try:
        ports = [n.args[n.args.index("--nats-leaf-port") + 1] for n in hub]
        leaf = start_core(
            tmp_path / "leaf",
            extra_args=[
                "--ha",
                "--name",
                "edge",
                "--nats-hub",
                ",".join(f"127.0.0.1:{p}" for p in ports),
                "--nats-port",
                str(free_port()),
                "--nats-monitor-port",
                "0",
                *FLAGS,
            ],
            env=hub[0].env,  # the hub's operator: the leaf connection authenticates with it
            health_timeout=90,
        )
        yield hub, leaf
    finally:
        if leaf is not None:
            leaf.stop()
        for node in hub:
            if node.server is not None:
                node.server.stop()


async def _has_changelog(nats_port: str, data_dir: Path) -> bool:
    """Whether the nats-server at `nats_port` holds a `pb` stream in its own JetStream domain."""
    creds = data_dir / "nats-auth" / "core.creds"
    nc = await nats.connect(f"nats://127.0.0.1:{nats_port}", user_credentials=str(creds))
    try:
        await nc.jetstream().stream_info("pb")
        return True
    except nats.js.errors.NotFoundError:
        return False
    finally:
        await nc.close()


async def test_a_node_on_a_leaf_writes_and_reads_through_the_hubs_stream(
    hub_and_leaf: tuple[list[HaNode], ServerProcess],
) -> None:
    hub, leaf = hub_and_leaf
    async with (
        httpx.AsyncClient(base_url=leaf.url, timeout=15) as edge,
        httpx.AsyncClient(base_url=hub[1].url, timeout=15) as center,
    ):
        su = {"Authorization": await superuser_token(edge)}
        made = await edge.post(
            "/api/collections",
            headers=su,
            json={
                "name": "notes",
                "fields": [{"name": "text", "type": "text"}],
                "listRule": "",
                "viewRule": "",
            },
        )
        assert made.status_code == 200, made.text
        note = await edge.post("/api/collections/notes/records", headers=su, json={"text": "from the leaf"})
        assert note.status_code == 200, note.text
        seen = await center.get(
            f"/api/collections/notes/records/{note.json()['id']}",
            headers={"X-Core-Min-Seq": note.headers["x-core-seq"]},
        )
        assert seen.status_code == 200 and seen.json()["text"] == "from the leaf", seen.text

        reply = await center.post("/api/collections/notes/records", headers=su, json={"text": "from the hub"})
        assert reply.status_code == 200, reply.text
        back = await edge.get(
            "/api/collections/notes/records", headers={"X-Core-Min-Seq": reply.headers["x-core-seq"]}
        )
        assert sorted(item["text"] for item in back.json()["items"]) == ["from the hub", "from the leaf"]

        docs = await edge.post(
            "/api/collections",
            headers=su,
            json={"name": "docs", "fields": [{"name": "doc", "type": "file", "maxSelect": 1}]},
        )
        assert docs.status_code == 200, docs.text
        up = await edge.post(
            "/api/collections/docs/records", headers=su, files={"doc": ("a.txt", b"leaf bytes")}
        )
        assert up.status_code == 200, up.text  # into the hub's file bucket
        got = await center.get(
            f"/api/files/docs/{up.json()['id']}/{up.json()['doc']}",
            headers={"X-Core-Min-Seq": up.headers["x-core-seq"]},
        )
        assert got.status_code == 200 and got.content == b"leaf bytes"

    leaf_nats = leaf.argv[leaf.argv.index("--nats-port") + 1]
    assert not await _has_changelog(leaf_nats, leaf.data_dir)  # nothing in the leaf's own domain
    hub_nats = hub[0].args[hub[0].args.index("--nats-port") + 1]
    assert await _has_changelog(hub_nats, hub[0].data_dir)
    # `core ha status` beside the leaf's node finds the hub's stream the same way
    everyone = {"edge", "n0", "n1", "n2"}
    for _ in range(100):  # each node writes its status on its own beat
        shown = await ha_status(leaf.data_dir, leaf_nats)
        if {n["node"] for n in shown["nodes"]} == everyone:
            break
        await asyncio.sleep(0.1)
    assert shown["replicas"] == 3 and shown["local"]["lag"] == 0
    assert {n["node"] for n in shown["nodes"]} == everyone

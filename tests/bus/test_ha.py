"""Record events and webhooks under `core serve --ha`: three real nodes, one JetStream cluster.
Every node applies every change, yet each change is one event and one delivery."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import nats
import pytest

from tests.bus.conftest import POSTS, Receiver
from tests.bus.test_webhooks import SECRET
from tests.nats.conftest import run_cli
from tests.servers import HaNode, ha_cluster, start_all, superuser_client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HaNode]]:
    nodes = ha_cluster(tmp_path_factory.mktemp("ha"), 3, "--ha-timeout", "5", "--events")
    start_all(nodes)
    yield nodes
    for node in nodes:
        if node.server is not None:
            node.server.stop()


def _nats_url(node: HaNode) -> str:
    return f"nats://127.0.0.1:{node.args[node.args.index('--nats-port') + 1]}"


def _wait_seq(clients: list[httpx.Client], seq: str) -> None:
    for http in clients:  # every node has applied it before the next write goes there
        http.get("/api/health", headers={"X-Core-Min-Seq": seq}).raise_for_status()


def test_one_event_and_one_delivery_per_change(
    cluster: list[HaNode], receiver: Receiver, tmp_path: Any
) -> None:
    clients = [superuser_client(n.server) for n in cluster]  # type: ignore[arg-type]
    a, b, c = clients
    made = a.post("/api/collections", json=POSTS)
    assert made.status_code == 200, made.text
    hooked = a.patch(
        "/api/settings",
        json={"webhooks": [{"url": receiver.url, "collections": ["posts"], "secret": SECRET}]},
    )
    assert hooked.status_code == 200, hooked.text
    _wait_seq(clients, hooked.headers["X-Core-Seq"])
    created = a.post("/api/collections/posts/records", json={"title": "on a"})
    post = created.json()
    _wait_seq(clients, created.headers["X-Core-Seq"])
    updated = b.patch(f"/api/collections/posts/records/{post['id']}", json={"title": "on b"})
    assert updated.status_code == 200, updated.text
    _wait_seq(clients, updated.headers["X-Core-Seq"])
    assert c.delete(f"/api/collections/posts/records/{post['id']}").status_code == 204

    creds = tmp_path / "reader.creds"
    result = run_cli(
        "creds", "reader", "--dir", str(cluster[2].data_dir), "--events", "posts", "-o", str(creds)
    )
    assert result.returncode == 0, result.stderr

    async def read() -> tuple[list[Any], int]:
        nc = await nats.connect(_nats_url(cluster[2]), user_credentials=str(creds))
        try:
            js = nc.jetstream(timeout=20)  # an R3 consumer on a busy 2-core machine
            sub = await js.pull_subscribe("pb.events.posts.>", durable="reader", stream="PB_EVENTS")
            got: list[Any] = []
            while len(got) < 3:
                got += await sub.fetch(3 - len(got), timeout=15)
            await asyncio.sleep(1.0)  # any duplicate published by another node would be in by now
            pending = (await sub.consumer_info()).num_pending
            return got, pending
        finally:
            await nc.close()

    msgs, pending = asyncio.run(read())
    assert pending == 0
    bodies = [json.loads(m.data) for m in msgs]
    assert [(b["action"], b["node"]) for b in bodies] == [
        ("create", "n0"),
        ("update", "n1"),
        ("delete", "n2"),
    ]
    seqs = [b["seq"] for b in bodies]
    assert seqs == sorted(seqs) and all(isinstance(s, int) for s in seqs)
    assert [m.headers["Nats-Msg-Id"] for m in msgs] == [f"{s}:0" for s in seqs]

    receiver.wait_for(3, timeout=30)
    time.sleep(2.0)  # another node delivering too would show up here
    assert [(b["action"], b["record"]["title"]) for b in receiver.bodies()] == [
        ("create", "on a"),
        ("update", "on b"),
        ("delete", "on b"),
    ]

"""Two `core serve` nodes whose embedded nats-servers form one cluster: `core logs tail` on one
node shows the other node's requests, from the stream's history and live (--follow)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.nats.auth import create_bundle
from tests.buslogs.conftest import followed, tail
from tests.servers import ServerProcess, free_port, start_core

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProcess]]:
    base = tmp_path_factory.mktemp("cluster")
    cluster_ports = [free_port() for _ in range(2)]
    routes = ",".join(f"nats://127.0.0.1:{p}" for p in cluster_ports)
    auth = create_bundle().export_text()  # one operator for both, as `core nats auth import` gives
    servers: list[ServerProcess | None] = [None, None]
    errors: list[BaseException] = []

    def start(i: int) -> None:
        args = [
            "--name", f"n{i}",
            "--nats-port", str(free_port()),
            "--nats-cluster-port", str(cluster_ports[i]),
            "--nats-routes", routes,
            "--nats-leaf-port", str(free_port()),
            "--nats-monitor-port", "0",
        ]  # fmt: skip
        try:
            servers[i] = start_core(
                base / f"n{i}", extra_args=args, env={"CORE_NATS_AUTH": auth}, health_timeout=90
            )
        except BaseException as exc:  # noqa: BLE001 - raised below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        if errors:
            raise errors[0]
        yield [s for s in servers if s is not None]
    finally:
        for s in servers:
            if s is not None:
                s.stop()


def _wait_tail(data_dir: Path, url: str, *args: str, timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        items = [i for i in tail(data_dir, *args) if i["data"].get("url") == url]
        if items or time.monotonic() > deadline:
            return items
        time.sleep(0.3)


def test_tail_on_one_node_shows_the_other_nodes_requests(nodes: list[ServerProcess]) -> None:
    n0, n1 = nodes
    url = f"/api/collections/from_n1_{uuid.uuid4().hex[:6]}/records"
    httpx.get(n1.url + url)
    items = _wait_tail(n0.data_dir, url, "--node", "n1")
    assert [i["node"] for i in items] == ["n1"], items
    # and n0's own logs are in the same stream
    own = f"/api/collections/from_n0_{uuid.uuid4().hex[:6]}/records"
    httpx.get(n0.url + own)
    assert [i["node"] for i in _wait_tail(n1.data_dir, own)] == ["n0"]


def test_follow_on_one_node_shows_a_request_on_the_other(nodes: list[ServerProcess]) -> None:
    n0, n1 = nodes
    before = f"/api/collections/before_{uuid.uuid4().hex[:6]}/records"
    after = f"/api/collections/after_{uuid.uuid4().hex[:6]}/records"
    httpx.get(n1.url + before)
    with followed(n0.data_dir, "--level", "error") as follower:
        follower.wait_for(lambda i: i["data"].get("url") == before, timeout=60)
        httpx.get(n1.url + after)
        item = follower.wait_for(lambda i: i["data"].get("url") == after, timeout=60)
    assert item["node"] == "n1" and item["data"]["status"] == 404

"""A backup restore on one of three `core serve --ha` nodes (real processes, each with its
embedded nats-server): every node ends with the backup's rows and files, and writes go on;
each node's metrics listener shows the replication series."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from tests.metrics.exposition import scrape, value
from tests.servers import free_port, ha_cluster, start_all, superuser_token

pytestmark = pytest.mark.slow


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        await asyncio.sleep(0.2)


async def test_a_restore_on_one_node_restores_rows_and_files_on_all(tmp_path: Path) -> None:
    nodes = ha_cluster(tmp_path, 3, "--ha-timeout", "2", "--ha-create-delay", "1")
    metrics = [f"http://127.0.0.1:{free_port()}/metrics" for _ in nodes]
    for node, url in zip(nodes, metrics, strict=True):
        node.args += ["--metrics-http", url.removeprefix("http://").removesuffix("/metrics")]
    for node in nodes[1:]:
        # n0 creates the stream: empty nodes racing to create it can meet a stream that is "in
        # use" and not found yet (Changelog.ensure does not retry that; reported)
        node.args += ["--ha-create-delay", "20"]
    start_all(nodes)
    clients = [httpx.AsyncClient(base_url=n.url, timeout=30) for n in nodes]
    try:
        a = clients[0]
        auth = {"Authorization": await superuser_token(a)}
        made = await a.post(
            "/api/collections",
            headers=auth,
            json={
                "name": "docs",
                "listRule": "",
                "viewRule": "",
                "fields": [{"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 5000000}],
            },
        )
        assert made.status_code == 200, made.text

        async def upload(client: httpx.AsyncClient, content: bytes, record: str = "") -> dict[str, str]:
            url = "/api/collections/docs/records" + (f"/{record}" if record else "")
            method = client.patch if record else client.post
            resp = await method(url, headers=auth, files={"doc": ("f.txt", content)})
            assert resp.status_code == 200, resp.text
            return dict(resp.json())

        one, two = await upload(a, b"one"), await upload(a, b"two")
        assert (await a.post("/api/backups", headers=auth, json={"name": "snap.zip"})).status_code == 204
        # after the backup, changes on every node: a new record, a replaced file, a deletion
        await upload(clients[1], b"three")
        await upload(clients[2], b"one, replaced", one["id"])
        assert (await a.delete(f"/api/collections/docs/records/{two['id']}", headers=auth)).status_code == 204

        restored = await a.post("/api/backups/snap.zip/restore", headers=auth)
        assert restored.status_code == 204, restored.text
        expected = {one["id"]: (one["doc"], b"one"), two["id"]: (two["doc"], b"two")}

        async def state(client: httpx.AsyncClient) -> dict[str, tuple[str, bytes]]:
            resp = await client.get("/api/collections/docs/records", params={"perPage": 100})
            if resp.status_code != 200:
                return {}
            out = {}
            for item in resp.json()["items"]:
                got = await client.get(f"/api/files/docs/{item['id']}/{item['doc']}")
                out[item["id"]] = (item["doc"], got.content if got.status_code == 200 else b"")
            return out

        for i, client in enumerate(clients):

            async def restored_here(client: httpx.AsyncClient = client) -> bool:
                return await state(client) == expected

            await _eventually(restored_here, f"node n{i} has the backup's rows and files")

        # new writes work on every node and reach the others
        new = [(await upload(client, f"new {i}".encode()))["id"] for i, client in enumerate(clients)]
        for i, client in enumerate(clients):

            async def has_new(client: httpx.AsyncClient = client) -> bool:
                return set(new) <= set(await state(client))

            await _eventually(has_new, f"node n{i} has every new record")

        # each node's metrics: the same applied sequence everywhere, others' entries applied (timed)
        samples = [scrape(url)[1] for url in metrics]
        applied = {value(s, "core_ha_applied_sequence") for s in samples}
        assert len(applied) == 1 and applied.pop() > 0
        for s in samples:
            assert value(s, "core_ha_lag_messages") == 0 and value(s, "core_ha_stalled") == 0
            assert value(s, "core_ha_apply_seconds_count") > 0
        creates = [
            value(s, "core_http_requests_total", route="/api/collections/{collection}/records")
            for s in samples
        ]
        assert all(c >= 1 for c in creates)
    finally:
        for client in clients:
            await client.aclose()
        for node in nodes:
            if node.server is not None:
                node.server.stop()

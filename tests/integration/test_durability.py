"""kill -9 during a stream of writes loses no acknowledged write."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.servers import start_core, superuser_token

pytestmark = pytest.mark.slow


async def _writer(
    client: httpx.AsyncClient, token: str, n: int, acked: list[str], stop: asyncio.Event
) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        try:
            resp = await client.post(
                "/api/collections/events/records",
                headers={"Authorization": token},
                json={"seq": n * 100000 + i},
            )
        except httpx.HTTPError:
            return  # the server died mid-request: that write was never acknowledged
        if resp.status_code == 200:
            acked.append(resp.json()["id"])


async def test_kill9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_core(data)
    acked: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            token = await superuser_token(client)
            resp = await client.post(
                "/api/collections",
                headers={"Authorization": token},
                json={"name": "events", "createRule": "", "fields": [{"name": "seq", "type": "number"}]},
            )
            assert resp.status_code == 200, resp.text
            stop = asyncio.Event()
            writers = [asyncio.create_task(_writer(client, token, n, acked, stop)) for n in range(8)]
            while len(acked) < 300:
                await asyncio.sleep(0.01)
            server.kill9()  # mid-stream: several requests are in flight
            stop.set()
            await asyncio.gather(*writers)
    finally:
        server.stop()

    server = start_core(data)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            token = await superuser_token(client)
            found: set[str] = set()
            page = 1
            while True:
                resp = await client.get(
                    "/api/collections/events/records",
                    headers={"Authorization": token},
                    params={"perPage": 1000, "page": page, "fields": "id", "skipTotal": 1},
                )
                items = resp.json()["items"]
                found.update(i["id"] for i in items)
                if len(items) < 1000:
                    break
                page += 1
    finally:
        server.stop()
    missing = set(acked) - found
    assert not missing, f"{len(missing)} acknowledged writes lost of {len(acked)}"
    assert len(found) >= len(acked)

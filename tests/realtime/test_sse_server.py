"""Real SSE over a `core serve` subprocess: headers, framing, delivery, disconnects, idle limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.realtime.sse import Frame, FrameParser
from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess, start_core

IDLE_SECONDS = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"CORE_REALTIME_IDLE_TIMEOUT": str(IDLE_SECONDS)}
    with start_core(tmp_path_factory.mktemp("sse") / "data", env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def superuser_token(server: ServerProcess) -> str:
    resp = httpx.post(
        f"{server.url}/api/collections/_superusers/auth-with-password",
        json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
    )
    token: str = resp.json()["token"]
    collection = {
        "name": "notes",
        "type": "base",
        "listRule": "",
        "viewRule": "",
        "createRule": "",
        "updateRule": "",
        "deleteRule": "",
        "fields": [{"name": "text", "type": "text"}],
    }
    resp = httpx.post(f"{server.url}/api/collections", json=collection, headers={"Authorization": token})
    assert resp.status_code == 200, resp.text
    return token


class Stream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.frames: list[Frame] = []
        self._parser = FrameParser()
        self._chunks = response.aiter_raw()

    async def next(self, timeout: float = 5.0) -> Frame:
        async with asyncio.timeout(timeout):
            while not self.frames:
                self.frames += self._parser.feed(await anext(self._chunks))
        return self.frames.pop(0)


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


async def open_stream(http: httpx.AsyncClient) -> tuple[Stream, Any]:
    cm = http.stream("GET", "/api/realtime")
    response = await cm.__aenter__()
    return Stream(response), cm


async def test_connect_frame_and_headers(http: httpx.AsyncClient) -> None:
    stream, cm = await open_stream(http)
    try:
        assert stream.response.status_code == 200
        headers = stream.response.headers
        assert headers["content-type"] == "text/event-stream"
        assert headers["cache-control"] == "no-store"
        assert headers["x-accel-buffering"] == "no"
        raw = await anext(stream._chunks)
        client_id = raw.split(b"\n")[0][3:].decode()
        assert len(client_id) == 40 and client_id.isalnum()
        assert raw == (f'id:{client_id}\nevent:PB_CONNECT\ndata:{{"clientId":"{client_id}"}}\n\n'.encode())
    finally:
        await cm.__aexit__(None, None, None)


async def test_events_are_delivered(http: httpx.AsyncClient, superuser_token: str) -> None:
    stream, cm = await open_stream(http)
    try:
        connect = await stream.next()
        resp = await http.post("/api/realtime", json={"clientId": connect.id, "subscriptions": ["notes/*"]})
        assert resp.status_code == 204
        created = (await http.post("/api/collections/notes/records", json={"text": "hello"})).json()
        frame = await stream.next()
        assert (frame.id, frame.event) == (connect.id, "notes/*")
        assert frame.json == {
            "record": {
                "collectionId": created["collectionId"],
                "collectionName": "notes",
                "id": created["id"],
                "text": "hello",
            },
            "action": "create",
        }
        await http.delete(f"/api/collections/notes/records/{created['id']}")
        frame = await stream.next()
        assert frame.json["action"] == "delete" and frame.json["record"]["id"] == created["id"]
    finally:
        await cm.__aexit__(None, None, None)


async def test_closed_stream_forgets_the_client(http: httpx.AsyncClient) -> None:
    stream, cm = await open_stream(http)
    connect = await stream.next()
    await cm.__aexit__(None, None, None)
    deadline = time.monotonic() + 5
    while True:
        resp = await http.post("/api/realtime", json={"clientId": connect.id, "subscriptions": []})
        if resp.status_code == 404 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert resp.status_code == 404


async def test_idle_connection_is_closed(http: httpx.AsyncClient) -> None:
    stream, cm = await open_stream(http)
    try:
        await stream.next()
        started = time.monotonic()
        with pytest.raises(StopAsyncIteration):
            await stream.next(timeout=IDLE_SECONDS + 5)
        assert IDLE_SECONDS - 0.5 < time.monotonic() - started < IDLE_SECONDS + 3
    finally:
        await cm.__aexit__(None, None, None)


async def test_server_closes_forgotten_streams_quickly(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    """Fifty streams opened and dropped at once leave nothing behind."""
    streams = [await open_stream(http) for _ in range(50)]
    ids = [(await s.next()).id for s, _ in streams]
    for _, cm in streams:
        await cm.__aexit__(None, None, None)
    await asyncio.sleep(0.5)
    statuses = {
        (await http.post("/api/realtime", json={"clientId": cid, "subscriptions": []})).status_code
        for cid in ids
    }
    assert statuses == {404}


@pytest.mark.slow
async def test_hundreds_of_streams(server: ServerProcess) -> None:
    host, port = server.url.removeprefix("http://").split(":")

    async def connect() -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /api/realtime HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"PB_CONNECT" not in data:
            chunk = await reader.read(4096)
            assert chunk, "connection closed"
            data += chunk
        return writer

    async with asyncio.timeout(15):
        writers = await asyncio.gather(*(connect() for _ in range(300)))
    for writer in writers:
        writer.close()

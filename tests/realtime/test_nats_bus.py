"""Events through a real nats-server: every process connected to it delivers every event.

Two apps stand for two processes (each with its own copy of the data, as replicated nodes
would have); writes happen on the first; subscribers of both get the same frames.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest

from core.app import App
from core.nats.process import find_binary
from core.realtime import Broker
from tests.conftest import fixture_app
from tests.realtime.conftest import barrier, superuser_request
from tests.realtime.sse import Recorder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(find_binary(os.environ)), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def other_app(fixture_dir: Path, tmp_path: Path) -> Iterator[App]:
    with fixture_app(fixture_dir, tmp_path / "other") as core:
        yield core


@pytest.fixture
async def brokers(app: App, other_app: App, nats_url: str) -> AsyncIterator[tuple[Broker, Broker]]:
    connections = [await nats.connect(nats_url), await nats.connect(nats_url)]
    pair = (Broker(app.store, nats=connections[0]), Broker(other_app.store, nats=connections[1]))
    for b in pair:
        await b.start()
    try:
        yield pair
    finally:
        for b in pair:
            await b.stop()
        for nc in connections:
            await nc.close()


async def wait_for_interest(broker: Broker, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not broker.bus.remote_interest():
            await asyncio.sleep(0.01)


async def test_every_process_delivers(app: App, brokers: tuple[Broker, Broker]) -> None:
    recorders = []
    for b in brokers:
        client = b.connect("127.0.0.1")
        b.subscribe(client, ["posts/*", "comments/*"], None)
        recorders.append(Recorder(client))
    # the writer publishes to NATS once it heard that another process has clients
    await wait_for_interest(brokers[0])
    posts = app.store.find("posts")
    assert posts is not None
    await app.store.update_record(posts, "post1aaaaaaaaaa", {"title": "via nats"}, superuser_request(app))
    await barrier(app, *recorders)
    for r in recorders:
        [frame] = r.events("posts/*")
        assert frame.json["record"]["title"] == "via nats" and frame.json["action"] == "update"
        await r.close()


async def test_direct_message_reaches_another_process(brokers: tuple[Broker, Broker]) -> None:
    first, second = brokers
    client = second.connect("127.0.0.1")
    second.subscribe(client, ["@oauth2"], None)
    recorder = Recorder(client)
    assert await first.send_to_client(client.id, "@oauth2", {"code": "c"})
    await recorder.wait_for(lambda frames: any(f.event == "@oauth2" for f in frames))
    assert not await first.send_to_client("x" * 40, "@oauth2", {"code": "c"})
    assert not await first.send_to_client("bad.subject.>", "@oauth2", {"code": "c"})
    await recorder.close()


async def test_a_process_with_no_clients_publishes_for_the_ones_that_have_some(
    app: App, brokers: tuple[Broker, Broker]
) -> None:
    first, second = brokers
    client = second.connect("127.0.0.1")  # the first client of `second` announces it at once
    second.subscribe(client, ["posts/*"], None)
    recorder = Recorder(client)
    await wait_for_interest(first)
    assert not first.clients
    posts = app.store.find("posts")
    assert posts is not None
    await app.store.update_record(posts, "post1aaaaaaaaaa", {"title": "remote"}, superuser_request(app))
    await recorder.wait_for(lambda frames: any(f.event == "posts/*" for f in frames))
    assert recorder.events("posts/*")[0].json["record"]["title"] == "remote"
    await recorder.close()


async def test_nobody_listening_means_no_events_derived(
    app: App, brokers: tuple[Broker, Broker], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = brokers
    source = first._source
    assert source is not None
    derived: list[object] = []
    original = source.derive
    monkeypatch.setattr(source, "derive", lambda change: derived.append(change) or original(change))
    posts = app.store.find("posts")
    assert posts is not None
    await app.store.update_record(posts, "post1aaaaaaaaaa", {"title": "unheard"}, superuser_request(app))
    await app.store.db.write(lambda ctx: None)  # acknowledged after the first group's listeners ran
    assert not first.bus.remote_interest() and derived == []


async def test_a_lone_process_delivers_without_the_nats_round_trip(
    app: App, brokers: tuple[Broker, Broker]
) -> None:
    first, second = brokers
    client = first.connect("127.0.0.1")
    first.subscribe(client, ["posts/*"], None)
    recorder = Recorder(client)
    await asyncio.sleep(0.2)  # its own announcement has come back by now: it does not count
    assert not first.bus.remote_interest() and not second.clients
    published: list[bytes] = []
    original = first.bus._outbox.put_nowait  # type: ignore[attr-defined]
    first.bus._outbox.put_nowait = lambda m: published.append(m) or original(m)  # type: ignore[attr-defined]
    posts = app.store.find("posts")
    assert posts is not None
    await app.store.update_record(posts, "post1aaaaaaaaaa", {"title": "local"}, superuser_request(app))
    await recorder.wait_for(lambda frames: any(f.event == "posts/*" for f in frames))
    assert [f.json["record"]["title"] for f in recorder.events("posts/*")] == ["local"]
    assert published == []  # nothing went to NATS: nobody else listens
    await recorder.close()

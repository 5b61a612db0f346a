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
from typing import Any

import nats
import pytest

from core.app import App
from core.nats.client import subscriptions_settled
from core.nats.process import find_binary
from core.realtime import Broker
from core.realtime.bus import NatsBus
from tests.conftest import fixture_app
from tests.realtime.conftest import barrier, superuser_request
from tests.realtime.sse import Recorder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """A real nats-server on a fixed port that a test can crash and start again."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(find_binary(os.environ)), "-a", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    server = NatsServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def other_app(fixture_dir: Path, tmp_path: Path) -> Iterator[App]:
    with fixture_app(fixture_dir, tmp_path / "other") as core:
        yield core


GROUP = "test"
PERIOD = 0.2  # state messages this often: a lost tail is noticed within a fraction of a second


class Processes:
    """Brokers standing for the worker processes of one group, each with its own NATS connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.started: list[tuple[Broker, nats.NATS]] = []

    async def start(
        self,
        app: App,
        group: str = GROUP,
        expected_peers: int = 0,
        pending_size: int = 2 << 20,
        **options: Any,
    ) -> Broker:
        # pending_size: what nats-py buffers while disconnected (1: nothing, every publish fails)
        nc = await nats.connect(
            self.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1, pending_size=pending_size
        )
        bus = NatsBus(nc, group, expected_peers=expected_peers, period=PERIOD, **options)
        broker = Broker(app.store, bus=bus)
        await broker.start()
        self.started.append((broker, nc))
        return broker

    async def stop(self, broker: Broker) -> None:
        for entry in self.started:
            if entry[0] is broker:
                self.started.remove(entry)
                await broker.stop()
                await entry[1].close()
                return

    async def stop_all(self) -> None:
        while self.started:
            await self.stop(self.started[-1][0])


@pytest.fixture
async def processes(nats_server: NatsServer) -> AsyncIterator[Processes]:
    procs = Processes(nats_server.url)
    try:
        yield procs
    finally:
        await procs.stop_all()


@pytest.fixture
async def brokers(app: App, other_app: App, processes: Processes) -> tuple[Broker, Broker]:
    return await processes.start(app), await processes.start(other_app, expected_peers=1)


async def subscribed(broker: Broker, *topics: str) -> Recorder:
    """A client as the HTTP layer makes one: its stream starts once the others know of it."""
    client = await broker.open("127.0.0.1")
    broker.subscribe(client, [*topics, "comments/*"], None)
    recorder = Recorder(client)
    await recorder.wait_for(lambda frames: bool(frames))  # PB_CONNECT
    return recorder


async def create_posts(app: App, *titles: str) -> None:
    posts = app.store.find("posts")
    assert posts is not None
    for title in titles:
        await app.store.create_record(posts, {"title": title}, superuser_request(app))


def titles(recorder: Recorder) -> list[str]:
    return [f.json["record"]["title"] for f in recorder.events("posts/*")]


async def test_every_process_delivers(app: App, brokers: tuple[Broker, Broker]) -> None:
    recorders = [await subscribed(b, "posts/*") for b in brokers]
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


async def test_a_first_client_gets_the_writes_of_another_process_at_once(
    app: App, brokers: tuple[Broker, Broker]
) -> None:
    first, second = brokers
    recorder = await subscribed(second, "posts/*")
    # no waiting: the other process knew of the client before its stream started
    assert not first.clients and first.bus.remote_interest()
    await create_posts(app, "at once")
    await barrier(app, recorder)
    assert titles(recorder) == ["at once"]
    await recorder.close()


async def test_a_stream_waits_until_the_other_processes_know_of_it(
    app: App, brokers: tuple[Broker, Broker], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mechanism behind the test above: the first client's stream starts only once every
    other live process has answered the sync (and so publishes to this one)."""
    first, second = brokers
    answered = asyncio.Event()
    original = first.bus._on_sync  # type: ignore[attr-defined]

    async def slow_answer(msg: Any) -> None:
        await asyncio.sleep(0.3)
        await original(msg)
        answered.set()

    await first.bus._subs[1].unsubscribe()  # type: ignore[attr-defined]
    first.bus._subs[1] = await first.bus.nc.subscribe(first.bus._sync_subject, cb=slow_answer)  # type: ignore[attr-defined]
    await subscriptions_settled(first.bus.nc)  # type: ignore[attr-defined]
    client = await second.open("127.0.0.1")
    assert answered.is_set()
    second.disconnect(client.id)


async def test_a_process_that_starts_publishes_to_the_clients_of_the_others(
    app: App, other_app: App, processes: Processes
) -> None:
    first = await processes.start(app)
    second = await processes.start(other_app, expected_peers=1)
    recorder = await subscribed(second, "posts/*")
    await processes.stop(first)  # a worker restarts: its successor must not wait to be told
    await processes.start(app, expected_peers=1)
    await create_posts(app, "from the new process")
    await barrier(app, recorder)
    assert titles(recorder) == ["from the new process"]
    await recorder.close()


@pytest.mark.parametrize("pending_size", [2 << 20, 1], ids=["buffered", "unbuffered"])
async def test_events_written_while_nats_restarts_reach_every_process(
    app: App, other_app: App, processes: Processes, nats_server: NatsServer, pending_size: int
) -> None:
    """Buffered: nats-py sends them after the reconnect, maybe before the other process has
    subscribed again. Unbuffered: every publish while down fails; they come from the ring."""
    await processes.start(app, pending_size=pending_size)
    second = await processes.start(other_app, expected_peers=1)
    recorder = await subscribed(second, "posts/*")
    await create_posts(app, "before")
    nats_server.kill9()
    await create_posts(app, *(f"down-{i}" for i in range(20)))
    nats_server.start()
    await create_posts(app, *(f"up-{i}" for i in range(20)))
    # the last ones may be lost too: the next state of their origin tells of them
    expected = ["before", *(f"down-{i}" for i in range(20)), *(f"up-{i}" for i in range(20))]
    await recorder.wait_for(lambda frames: len(titles(recorder)) >= len(expected), timeout=15)
    assert titles(recorder) == expected
    await barrier(app, recorder)
    assert titles(recorder) == expected
    await recorder.close()


async def test_events_that_cannot_be_fetched_again_end_the_streams(
    app: App, other_app: App, processes: Processes, nats_server: NatsServer
) -> None:
    await processes.start(app, ring_bytes=1, pending_size=1)  # keeps its last event only
    second = await processes.start(other_app, expected_peers=1)
    recorder = await subscribed(second, "posts/*")
    nats_server.kill9()
    await create_posts(app, "one", "two", "three")
    nats_server.start()
    async with asyncio.timeout(15):
        while not recorder.closed:
            await asyncio.sleep(0.05)
    assert recorder.client.discarded  # its stream ends: the SDK reconnects and knows to fetch again
    await recorder.close()


async def test_two_servers_on_one_nats_server_do_not_share_events(
    app: App, other_app: App, processes: Processes
) -> None:
    await processes.start(app, group="one")
    other = await processes.start(other_app, group="two")
    recorder = await subscribed(other, "posts/*")
    assert not other.bus.remote_interest()
    await create_posts(app, "not for the other server")
    await create_posts(other_app, "its own")
    await recorder.wait_for(lambda frames: bool(titles(recorder)))
    await barrier(other_app, recorder)
    assert titles(recorder) == ["its own"]
    await recorder.close()


async def test_a_process_with_no_clients_publishes_for_the_ones_that_have_some(
    app: App, brokers: tuple[Broker, Broker]
) -> None:
    first, second = brokers
    recorder = await subscribed(second, "posts/*")
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
    recorder = await subscribed(first, "posts/*")
    assert not first.bus.remote_interest() and not second.clients
    posts = app.store.find("posts")
    assert posts is not None
    await app.store.update_record(posts, "post1aaaaaaaaaa", {"title": "local"}, superuser_request(app))
    await recorder.wait_for(lambda frames: any(f.event == "posts/*" for f in frames))
    assert [f.json["record"]["title"] for f in recorder.events("posts/*")] == ["local"]
    assert first.bus._seq == 0  # type: ignore[attr-defined]  # no event went to NATS: nobody else listens
    await recorder.close()

"""Record events on PB_EVENTS: a real `core serve`, its nats-server and nats-py consumers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import nats.js.errors
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from tests.bus.conftest import Core, start
from tests.integration.test_workers import connect_to_each

SECRETS = ("password", "tokenKey", "note")


async def _events(core: Core, creds: Any, subject: str, count: int, **config: Any) -> list[Any]:
    """`count` messages of PB_EVENTS matching `subject`, through a pull consumer of `creds`'s user."""
    nc = await nats.connect(core.nats_url, user_credentials=str(creds))
    try:
        js = nc.jetstream()
        name = creds.stem  # the one consumer name an --events user may use
        for _ in range(100):  # core (re)creates the stream on its own time
            try:
                sub = await js.pull_subscribe(
                    subject, durable=name, stream="PB_EVENTS", config=ConsumerConfig(**config)
                )
                break
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("no PB_EVENTS stream")
        got: list[Any] = []
        while len(got) < count:
            got += await sub.fetch(count - len(got), timeout=10)
        for msg in got:
            await msg.ack()
        await asyncio.sleep(0.3)
        # exactly once: nothing else (no duplicate) waits behind them
        assert (await sub.consumer_info()).num_pending == 0
        await js.delete_consumer("PB_EVENTS", name)
        return got
    finally:
        await nc.close()


def test_create_update_delete_arrive_once_with_payload_and_no_secrets(core: Core) -> None:
    started = datetime.now(UTC)
    http = core.http
    post = http.post("/api/collections/posts/records", json={"title": "one", "note": "hidden!"}).json()
    http.patch(f"/api/collections/posts/records/{post['id']}", json={"title": "two"}).raise_for_status()
    http.delete(f"/api/collections/posts/records/{post['id']}").raise_for_status()
    user = http.post(
        "/api/collections/users/records",
        json={"email": "ev@example.com", "password": "secret-pass-1", "passwordConfirm": "secret-pass-1"},
    ).json()
    creds = core.creds("reader", "--events", "*")
    msgs = asyncio.run(
        _events(
            core, creds, "pb.events.>", 4, deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=started
        )
    )
    subjects = [m.subject for m in msgs]
    assert subjects == [
        "pb.events.posts.create",
        "pb.events.posts.update",
        "pb.events.posts.delete",
        "pb.events.users.create",
    ]
    bodies = [json.loads(m.data) for m in msgs]
    assert [b["action"] for b in bodies] == ["create", "update", "delete", "create"]
    assert bodies[0]["record"]["title"] == "one" and bodies[1]["record"]["title"] == "two"
    assert bodies[2]["record"]["id"] == post["id"]
    assert bodies[0]["collection"] == "posts" and bodies[0]["collectionId"] == post["collectionId"]
    assert bodies[3]["record"]["email"] == "ev@example.com"  # a superuser's view
    assert bodies[3]["record"]["id"] == user["id"]
    for body in bodies:
        assert not set(SECRETS) & set(body["record"]), body
        assert body["node"] and body["seq"] is None  # no --ha: no changelog sequence
    ids = [m.headers["Nats-Msg-Id"] for m in msgs]
    assert len(set(ids)) == 4 and [b["id"] for b in bodies] == ids
    assert all(m.metadata.num_delivered == 1 for m in msgs)


def test_posts_reader_cannot_read_users_events_nor_publish(core: Core) -> None:
    creds = core.creds("poster", "--events", "posts")

    async def attempt() -> tuple[list[str], list[str]]:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc).lower())

        nc = await nats.connect(core.nats_url, user_credentials=str(creds), error_cb=on_error)
        js = nc.jetstream()
        refused: list[str] = []
        try:
            try:  # a consumer on users' events: the CREATE subject carries the filter, refused
                await js.pull_subscribe("pb.events.users.>", durable="poster", stream="PB_EVENTS")
            except Exception as exc:  # the API request goes unanswered: a permissions violation
                refused.append(f"users consumer: {type(exc).__name__}")
            try:  # a consumer named like someone else's
                await js.pull_subscribe("pb.events.posts.>", durable="reader", stream="PB_EVENTS")
            except Exception as exc:
                refused.append(f"other consumer: {type(exc).__name__}")
            # a plain subscription to users' events is refused by the server
            await nc.subscribe("pb.events.users.>")
            await nc.publish("pb.events.posts.create", b"{}")  # forging an event
            await nc.flush()
            await asyncio.sleep(0.5)
            # its own collection works
            sub = await js.pull_subscribe("pb.events.posts.>", durable="poster", stream="PB_EVENTS")
            await js.delete_consumer("PB_EVENTS", "poster")
            del sub
        finally:
            await nc.close()
        return refused, errors

    refused, errors = asyncio.run(attempt())
    assert len(refused) == 2, refused
    assert any("subscription" in e and "pb.events.users" in e for e in errors), errors
    assert any("publish" in e and "pb.events.posts.create" in e for e in errors), errors


@pytest.mark.slow
def test_a_consumer_replays_after_a_restart(tmp_path: Any) -> None:
    core = start(tmp_path / "data")
    try:
        first = core.http.post("/api/collections/posts/records", json={"title": "before"}).json()
        core.restart()
        second = core.http.post("/api/collections/posts/records", json={"title": "after"}).json()
        creds = core.creds("replayer", "--events", "posts")
        msgs = asyncio.run(_events(core, creds, "pb.events.posts.>", 2))  # DeliverPolicy.ALL
        ids = [json.loads(m.data)["record"]["id"] for m in msgs]
        assert ids == [first["id"], second["id"]]
        assert len({m.headers["Nats-Msg-Id"] for m in msgs}) == 2
    finally:
        core.server.stop()


def test_flags_set_the_stream_limits_and_the_hidden_fields_opt_in(tmp_path: Any) -> None:
    core = start(
        tmp_path / "data", "--events-max-age", "2h", "--events-max-bytes", "64MB", "--events-hidden", "posts"
    )
    try:
        core.http.post(
            "/api/collections/posts/records", json={"title": "t", "note": "shown"}
        ).raise_for_status()
        creds = core.creds("admin", "--events", "*")

        async def info() -> Any:
            nc = await nats.connect(core.nats_url, user_credentials=str(creds))
            try:
                return await nc.jetstream().stream_info("PB_EVENTS")
            finally:
                await nc.close()

        config = asyncio.run(info()).config
        assert config.max_age == 7200 and config.max_bytes == 64 << 20
        assert config.subjects == ["pb.events.>"]
        (msg,) = asyncio.run(_events(core, creds, "pb.events.posts.>", 1))
        assert json.loads(msg.data)["record"]["note"] == "shown"
    finally:
        core.server.stop()


@pytest.mark.slow
def test_a_deleted_stream_fails_no_write_and_comes_back(tmp_path: Any) -> None:
    core = start(tmp_path / "data")
    try:
        admin = core.creds("admin")  # a user of the app account with every permission

        async def delete() -> None:
            nc = await nats.connect(core.nats_url, user_credentials=str(admin))
            try:
                await nc.jetstream().delete_stream("PB_EVENTS")
            finally:
                await nc.close()

        asyncio.run(delete())
        written = [core.http.post("/api/collections/posts/records", json={"title": str(i)}) for i in range(3)]
        assert [r.status_code for r in written] == [200, 200, 200]
        creds = core.creds("late", "--events", "posts")
        msgs = asyncio.run(_events(core, creds, "pb.events.posts.>", 3))
        assert [json.loads(m.data)["record"]["title"] for m in msgs] == ["0", "1", "2"]
    finally:
        core.server.stop()


@pytest.mark.slow
def test_every_worker_publishes_its_own_writes_once(tmp_path: Any) -> None:
    core = start(tmp_path / "data", "--workers", "2")
    try:
        token = str(core.http.headers["Authorization"])
        ids: list[str] = []
        for worker in connect_to_each(core.server).values():  # writes on each process
            for i in range(12):
                status, body = worker.call("POST", "/api/collections/posts/records", {"title": str(i)}, token)
                assert status == 200, body
                ids.append(body["id"])
        creds = core.creds("all", "--events", "posts")
        msgs = asyncio.run(_events(core, creds, "pb.events.posts.>", 24))
        assert sorted(json.loads(m.data)["record"]["id"] for m in msgs) == sorted(ids)
        # each process numbers its own events under its own token
        tokens = {m.headers["Nats-Msg-Id"].split(":")[0] for m in msgs}
        assert len(tokens) == 2, tokens
    finally:
        core.server.stop()


def test_the_readme_example_replays_from_a_point_in_time(core: Core) -> None:
    core.http.post("/api/collections/posts/records", json={"title": "before"}).raise_for_status()
    time.sleep(0.05)
    since = datetime.now(UTC)
    time.sleep(0.05)
    ids = [core.http.post("/api/collections/posts/records", json={"title": t}).json()["id"] for t in "ab"]
    creds = core.creds("replay", "--events", "posts")
    example = Path(__file__).with_name("replay_example.py")
    for _ in range(2):  # a second run starts afresh from the same point
        result = subprocess.run(
            [sys.executable, str(example), core.nats_url, str(creds), "replay", since.isoformat()],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        lines = [line.split() for line in result.stdout.splitlines()]
        assert [(action, collection, rid) for action, collection, rid, *_ in lines] == [
            ("create", "posts", ids[0]),
            ("create", "posts", ids[1]),
        ]


def _nats_server_pid(core: Core) -> int:
    for task in Path(f"/proc/{core.server.pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if Path(f"/proc/{child}/comm").read_text().strip() == "nats-server":
                return int(child)
    raise AssertionError("no nats-server child")


@pytest.mark.slow
def test_writes_during_a_nats_outage_succeed_and_their_events_follow(tmp_path: Any) -> None:
    core = start(tmp_path / "data")
    try:
        os.kill(_nats_server_pid(core), signal.SIGKILL)  # core's supervisor starts it again
        written = [core.http.post("/api/collections/posts/records", json={"title": str(i)}) for i in range(5)]
        assert [r.status_code for r in written] == [200] * 5
        deadline = time.monotonic() + 30
        while True:  # nats-server is back (the supervisor's backoff)
            try:
                socket.create_connection(("127.0.0.1", core.nats_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nats-server did not come back"
                time.sleep(0.2)
        creds = core.creds("after", "--events", "posts")
        msgs = asyncio.run(_events(core, creds, "pb.events.posts.>", 5))
        assert [json.loads(m.data)["record"]["id"] for m in msgs] == [r.json()["id"] for r in written]
        assert "NATS connection lost" in core.server.log_tail(400)  # the writes met the outage
    finally:
        core.server.stop()


@pytest.mark.slow
def test_no_events_publishes_nothing(tmp_path: Any) -> None:
    core = start(tmp_path / "data", "--no-events")
    try:
        core.http.post("/api/collections/posts/records", json={"title": "quiet"}).raise_for_status()
        admin = core.creds("admin")

        async def streams() -> list[str]:
            nc = await nats.connect(core.nats_url, user_credentials=str(admin))
            try:
                return [s.config.name for s in await nc.jetstream().streams_info()]
            finally:
                await nc.close()

        assert "PB_EVENTS" not in asyncio.run(streams())
        assert core.http.get("/api/webhooks/deliveries").json()["totalItems"] == 0
    finally:
        core.server.stop()

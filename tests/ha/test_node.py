"""Nodes joining a stream: the first one's data becomes snapshot 0, an empty node restores the
newest snapshot and replays, a node behind the stream's first entry restores again, and data
that is not derived from the stream is refused."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import apsw
import httpx
import msgspec
import nats.js.errors
import pytest

from core.api import build_asgi
from core.app import App
from core.config import Settings
from core.ha import snapshot
from core.ha.applier import read_state
from core.ha.changelog import StreamSettings
from core.ha.entry import FORMAT_VERSION, MAGIC, READERS
from core.ha.files import bucket_name, object_name
from core.ha.node import HaNode, HaSettings, HaStartError
from core.ha.upkeep import NodeStatus, key_value, nodes_bucket
from core.store.db import open_connection
from core.store.record_view import fetch_dicts
from tests import fixture_data
from tests.ha.test_applier import _fingerprint
from tests.nats.conftest import StartNode

Opened = tuple[App, HaNode]


@pytest.fixture
async def cluster(start_node: StartNode, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    nats = await start_node(tmp_path / "nats")
    await nats.jetstream_ready()
    opened: list[Opened] = []

    async def open_node(name: str, data_dir: Path, **settings: Any) -> Opened:
        app = App(Settings(data_dir=data_dir))
        node = HaNode(HaSettings(node=name, stream=StreamSettings(name="pbjoin"), **settings), nats.js)
        try:
            await node.open(app)
        except BaseException:
            app.close()
            raise
        opened.append((app, node))
        return app, node

    async def close_node(pair: Opened) -> None:
        opened.remove(pair)
        await pair[1].close()
        pair[0].close()

    open_node.close = close_node  # type: ignore[attr-defined]
    open_node.js = nats.js  # type: ignore[attr-defined]
    yield open_node
    for pair in list(opened):
        await close_node(pair)


@contextlib.asynccontextmanager
async def superuser_client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` on this event loop (where its NATS client lives), as the fixture superuser."""
    su = app.store.find("_superusers")
    row = app.store.db.read_sync(
        lambda c: fetch_dicts(c, "SELECT * FROM _superusers WHERE email = ?", (fixture_data.SUPERUSER[0],))
    )[0]
    transport = httpx.ASGITransport(app=build_asgi(app))
    headers = {"Authorization": app.auth.issue(su, row)}
    async with httpx.AsyncClient(transport=transport, base_url="http://core", headers=headers) as client:
        yield client


async def _create_posts(app: App, titles: list[str]) -> None:
    async with superuser_client(app) as client:
        for title in titles:
            response = await client.post("/api/collections/posts/records", json={"title": title})
            assert response.status_code == 200, response.text


def _state(app: App) -> Any:
    return app.store.db.read_sync(read_state)


def _print(app: App) -> dict[str, Any]:
    conn = open_connection(app.store.db.path)
    try:
        return _fingerprint(conn)
    finally:
        conn.close()


async def _health_once_stalled(client: httpx.AsyncClient) -> httpx.Response:
    for _ in range(100):
        health = await client.get("/api/health")
        if health.status_code == 503:
            break
        await asyncio.sleep(0.05)
    return health


async def _same(a: App, b: App) -> None:
    for _ in range(200):
        if _state(a).seq == _state(b).seq:
            break
        await asyncio.sleep(0.05)
    assert _print(a) == _print(b)


async def test_nodes_join_from_snapshots_and_foreign_data_is_refused(
    cluster: Any, fixture_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="core.ha")
    shutil.copytree(fixture_dir, tmp_path / "one")  # an existing single-node install moves to --ha
    first = await cluster("one", tmp_path / "one")
    assert _state(first[0]).seq == 0
    await _create_posts(first[0], ["a", "b"])
    assert _state(first[0]).seq == 2

    second = await cluster("two", tmp_path / "two")  # empty: restores snapshot 0, replays 1-2
    assert "restored snapshot at entry 0" in caplog.text
    await _same(first[0], second[0])
    await _create_posts(second[0], ["c"])  # and writes
    await _same(first[0], second[0])

    shutil.copytree(fixture_dir, tmp_path / "three")
    with pytest.raises(HaStartError, match="core ha reset"):
        await cluster("three", tmp_path / "three")

    # two goes away; the stream ages past it (entries purged below a fresh snapshot)
    await cluster.close(second)
    await _create_posts(first[0], ["d", "e"])
    taken = await first[1].snapshot(first[0])
    assert taken.seq == 5
    await cluster.js.purge_stream("pbjoin", seq=taken.seq + 1)
    again = await cluster("two", tmp_path / "two")
    assert "restored snapshot at entry 5" in caplog.text
    await _same(first[0], again[0])
    titles = again[0].store.db.read_sync(lambda c: [r[0] for r in c.execute("SELECT title FROM posts")])
    assert {"a", "b", "c", "d", "e"} <= set(titles)


async def test_garbage_on_the_subject_is_skipped_by_every_node(
    cluster: Any, fixture_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(fixture_dir, tmp_path / "one")
    one = await cluster("one", tmp_path / "one")
    two = await cluster("two", tmp_path / "two")
    await cluster.js.publish("pbjoin.changes", b'{"not": "ours"}', stream="pbjoin")
    await _create_posts(two[0], ["after garbage"])
    await _same(one[0], two[0])
    assert _state(one[0]).skipped == _state(two[0]).skipped == 1


async def test_snapshots_are_taken_by_count_and_the_log_is_trimmed_below_them(
    cluster: Any, fixture_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(fixture_dir, tmp_path / "one")
    often = {"snapshot_entries": 3, "retain_entries": 2, "status_interval": 0.05}
    one = await cluster("one", tmp_path / "one", **often)
    two = await cluster("two", tmp_path / "two", **often)
    await _create_posts(one[0], [f"p{i}" for i in range(7)])
    bucket = await snapshot.bucket(cluster.js, "pbjoin", 1)
    for _ in range(200):
        newest = await snapshot.newest(bucket)
        info = await cluster.js.stream_info("pbjoin")
        if newest is not None and newest.seq >= 6 and info.state.first_seq > 1:
            break  # the purge follows the upload
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"no snapshot past entry 6 and trim: {newest}, {info.state}")
    # trimmed, but never past the newest snapshot
    assert 1 < info.state.first_seq <= newest.seq + 1
    late = await cluster("three", tmp_path / "three", **often)
    await _same(one[0], late[0])
    await _same(two[0], late[0])
    nodes = await key_value(cluster.js, nodes_bucket("pbjoin"), 1)
    for _ in range(100):
        statuses = {
            name: NodeStatus.from_json((await nodes.get(name)).value) for name in ("one", "two", "three")
        }
        if all(s.applied == 7 for s in statuses.values()):
            break
        await asyncio.sleep(0.05)
    assert {s.applied for s in statuses.values()} == {7}
    assert all(s.stalled is None and s.mode == "serializable" for s in statuses.values())


async def test_an_entry_that_cannot_be_applied_stalls_the_node_loudly(
    cluster: Any, fixture_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(fixture_dir, tmp_path / "one")
    app, node = await cluster("one", tmp_path / "one")
    app.services["ha"] = node
    newer = MAGIC + bytes([FORMAT_VERSION + 1]) + b"\x80"  # written by a newer core
    await cluster.js.publish("pbjoin.changes", newer, stream="pbjoin")
    transport = httpx.ASGITransport(app=build_asgi(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        health = await _health_once_stalled(client)
        assert health.status_code == 503
        message = health.json()["message"]
        assert f"format {FORMAT_VERSION + 1}" in message and "upgrade this node" in message
        count = app.store.db.read_sync(lambda c: c.execute("SELECT count(*) FROM posts").fetchone()[0])
        with pytest.raises(AssertionError, match="503"):
            await _create_posts(app, ["refused"])
        assert (
            app.store.db.read_sync(lambda c: c.execute("SELECT count(*) FROM posts").fetchone()[0]) == count
        )
        assert _state(app).seq == 0  # the entry was not skipped
        assert (await client.get("/api/collections/posts/records")).status_code == 200  # reads go on


async def test_what_would_bypass_the_log_is_refused(cluster: Any, fixture_dir: Path, tmp_path: Path) -> None:
    """DDL through /api/sql would change this node only (a backup restore goes through the log:
    tests/ha/test_restore*.py)."""
    shutil.copytree(fixture_dir, tmp_path / "one")
    app, node = await cluster("one", tmp_path / "one")
    app.services["ha"] = node
    async with superuser_client(app) as client:
        for ddl_sql in (
            "CREATE TABLE side (a TEXT)",
            "ALTER TABLE posts ADD COLUMN side TEXT",
            "CREATE INDEX idx_side ON posts (views)",
        ):
            refused = await client.post("/api/sql", json={"query": ddl_sql})
            assert refused.status_code == 400, refused.text
            assert refused.json()["message"].startswith("Schema changes through SQL are not replicated")
        before = _state(app).seq
        dml = await client.post("/api/sql", json={"query": "UPDATE posts SET views = 7"})
        assert dml.status_code == 200, dml.text
        assert _state(app).seq == before + 1  # row changes go through the log


async def test_the_file_bucket_exists_from_the_start_and_a_deleted_record_leaves_it(
    cluster: Any, fixture_dir: Path, tmp_path: Path
) -> None:
    """Nodes whose first uploads raced to create the bucket had requests go unanswered while its
    replicas formed (a 503 for an upload on a healthy cluster): every node opens it at start.
    A deleted record's files leave the bucket by name, not by listing the whole bucket."""
    shutil.copytree(fixture_dir, tmp_path / "one")
    app, node = await cluster("one", tmp_path / "one")
    bucket = await cluster.js.object_store(bucket_name("pbjoin"))  # no upload yet
    async with superuser_client(app) as client:
        made = await client.post(
            "/api/collections",
            json={
                "name": "docs",
                "fields": [{"name": "files", "type": "file", "maxSelect": 3, "maxSize": 9999}],
            },
        )
        assert made.status_code == 200, made.text
        up = await client.post(
            "/api/collections/docs/records", files=[("files", ("a.txt", b"a")), ("files", ("b.txt", b"b"))]
        )
        assert up.status_code == 200, up.text
        keys = [object_name(made.json()["id"], up.json()["id"], name) for name in up.json()["files"]]
        assert [(await bucket.get(key)).data for key in keys] == [b"a", b"b"]
        gone = await client.delete(f"/api/collections/docs/records/{up.json()['id']}")
        assert gone.status_code == 204
    for key in keys:
        for _ in range(100):
            try:
                await bucket.get_info(key)
            except nats.js.errors.ObjectNotFoundError:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"{key} is still in the bucket")


async def test_a_node_stalled_by_a_newer_format_applies_it_once_upgraded(
    cluster: Any, fixture_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rolling upgrade: an upgraded node writes a format this one cannot read. It stops at that
    entry (health 503 with the reason, the entry not skipped); restarted as a core that reads the
    format, it applies it and converges with a node that joins afterwards."""
    newer = FORMAT_VERSION + 1
    shutil.copytree(fixture_dir, tmp_path / "one")
    app, node = await cluster("one", tmp_path / "one")
    app.services["ha"] = node
    # the newer format in this test: format 1's body with a field format 1 does not know
    copy = open_connection(tmp_path / "changes.db")
    source = apsw.Connection(str(app.store.db.path), flags=apsw.SQLITE_OPEN_READONLY)
    with copy.backup("main", source, "main") as backup:
        backup.step()
    source.close()
    session = apsw.Session(copy, "main")
    session.attach("posts")
    copy.execute("INSERT INTO posts (id, title) VALUES ('fromformat2xxxx', 'written by a newer core')")
    body = msgspec.msgpack.encode({"node": "newer", "changeset": session.changeset(), "hlc": 12345})
    session.close()
    copy.close()
    await cluster.js.publish("pbjoin.changes", MAGIC + bytes([newer]) + body, stream="pbjoin")
    transport = httpx.ASGITransport(app=build_asgi(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        health = await _health_once_stalled(client)
        assert health.status_code == 503 and f"format {newer}" in health.json()["message"], health.text
    assert _state(app).seq == 0
    await cluster.close((app, node))

    monkeypatch.setitem(READERS, newer, READERS[1])  # the upgrade: this core now reads it
    app, node = await cluster("one", tmp_path / "one")
    app.services["ha"] = node
    await node.wait_applied(1)
    assert _state(app).seq == 1
    title = app.store.db.read_sync(
        lambda c: c.execute("SELECT title FROM posts WHERE id = 'fromformat2xxxx'").fetchone()
    )
    assert title == ("written by a newer core",)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_asgi(app)), base_url="http://core"
    ) as client:
        assert (await client.get("/api/health")).status_code == 200
    await _create_posts(app, ["after the upgrade"])
    fresh = await cluster("two", tmp_path / "two")  # from snapshot 0, through the newer entry
    await _same(app, fresh[0])

"""Two Apps on one changelog (a real nats-server), written to at the same time through the API:
serializable writes keep every guarantee across nodes and both end with the same database."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.api import build_asgi
from core.app import App
from core.config import Settings
from core.ha.applier import Mode, start_state
from core.ha.changelog import Changelog, StreamSettings
from core.ha.replicator import Replicator, after_apply
from core.store.db import open_connection
from core.store.record_view import fetch_dicts
from tests import fixture_data
from tests.ha.test_applier import _fingerprint
from tests.nats.conftest import StartNode


class Node:
    def __init__(self, app: App, replicator: Replicator, client: httpx.AsyncClient, token: str) -> None:
        self.app, self.replicator, self.client = app, replicator, client
        self.headers = {"Authorization": token}

    async def call(self, method: str, url: str, body: Any = None) -> Any:
        return await self.client.request(method, url, json=body, headers=self.headers)

    def applied(self) -> int:
        # what requests go by (set once the caches followed the entry), not data.db's row,
        # which commits a moment before the collections are reloaded
        return self.replicator.applied


@pytest.fixture(params=[Mode.SERIALIZABLE, Mode.LAST_WRITER_WINS], ids=lambda m: m.value)
async def nodes(
    request: pytest.FixtureRequest, start_node: StartNode, fixture_dir: Path, tmp_path: Path
) -> AsyncIterator[list[Node]]:
    nats = await start_node(tmp_path / "nats")
    await nats.jetstream_ready()
    changelog = Changelog(nats.js, StreamSettings(name="pbwrites"))
    await changelog.ensure()
    out: list[Node] = []
    try:
        for name in ("a", "b"):
            shutil.copytree(fixture_dir, tmp_path / name)  # both start from the same state: seq 0
            app = App(Settings(data_dir=tmp_path / name))
            app.open()
            app.store.db.write_sync(lambda ctx: start_state(ctx.conn, "pbwrites", 0))
            replicator = Replicator(
                changelog,
                asyncio.get_running_loop(),
                node=name,
                mode=request.param,
                on_applied=after_apply(app.store),
            )
            await replicator.start(app.store.db)
            # httpx's ASGI transport runs the app on this loop, where the NATS client lives too
            # (litestar's test client would run it on a portal thread's loop and block this one)
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=build_asgi(app)), base_url="http://core"
            )
            su = app.store.find("_superusers")
            row = app.store.db.read_sync(
                lambda c: fetch_dicts(
                    c, "SELECT * FROM _superusers WHERE email = ?", (fixture_data.SUPERUSER[0],)
                )
            )[0]
            out.append(Node(app, replicator, client, app.auth.issue(su, row)))
        yield out
    finally:
        for node in out:
            await node.client.aclose()
            await node.replicator.stop()
            node.app.close()


async def _converged(nodes: list[Node], changelog_last: int) -> None:
    for _ in range(200):
        if all(n.applied() == changelog_last for n in nodes):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not converged: {[n.applied() for n in nodes]} != {changelog_last}")


async def test_concurrent_writes_on_two_nodes_converge(nodes: list[Node]) -> None:
    """Serializable: every guarantee holds across nodes. Last-writer-wins: the nodes agree."""
    a, b = nodes
    serializable = a.replicator.mode is Mode.SERIALIZABLE
    post = (await a.call("POST", "/api/collections/posts/records", {"title": "counter", "views": 0})).json()
    url = f"/api/collections/posts/records/{post['id']}"
    made = await a.call(
        "POST",
        "/api/collections",
        {
            "name": "handles",
            "type": "base",
            "fields": [{"name": "handle", "type": "text"}],
            "indexes": ["CREATE UNIQUE INDEX idx_handle ON handles (handle)"],
            "createRule": "",
        },
    )
    assert made.status_code == 200, made.text
    # b serves the new collection once it has applied a's entry (reads are not linearizable)
    await _converged(nodes, (await a.replicator.changelog.info()).state.last_seq)

    async def increments(node: Node, count: int) -> list[int]:
        return [(await node.call("PATCH", url, {"views+": 1})).status_code for _ in range(count)]

    async def creates(node: Node, count: int) -> list[int]:
        return [
            (
                await node.call(
                    "POST", "/api/collections/posts/records", {"title": f"{node.replicator.node}{i}"}
                )
            ).status_code
            for i in range(count)
        ]

    async def claim(node: Node) -> int:
        return (await node.call("POST", "/api/collections/handles/records", {"handle": "taken"})).status_code

    results = await asyncio.gather(
        increments(a, 15), increments(b, 15), creates(a, 10), creates(b, 10), claim(a), claim(b)
    )
    assert set(results[0] + results[1] + results[2] + results[3]) == {200}
    if serializable:
        assert sorted(results[4:]) == [200, 400]  # the unique index holds across nodes: one winner
    # a schema change on b while a keeps writing
    fields = made.json()["fields"] + [{"name": "score", "type": "number"}]
    field_add = await b.call("PATCH", "/api/collections/handles", {"fields": fields})
    assert field_add.status_code == 200, field_add.text
    write = await a.call("POST", "/api/collections/handles/records", {"handle": "later", "score": 3})
    assert write.status_code == 200, write.text  # a knows the new field: it applied b's entry first

    last = (await a.replicator.changelog.info()).state.last_seq
    await _converged(nodes, last)
    views = {(await node.call("GET", url)).json()["views"] for node in nodes}
    if serializable:
        assert views == {30}  # no increment lost: each ran on the state the others left
        assert a.replicator.retries + b.replicator.retries > 0  # the race was real
    else:
        assert len(views) == 1  # increments may be lost, but alike on every node
        assert a.replicator.replays + b.replicator.replays > 0
    claimed = {
        len(
            (await node.call("GET", "/api/collections/handles/records?filter=handle='taken'")).json()["items"]
        )
        for node in nodes
    }
    assert claimed == {1}
    fingerprints = []
    for node in nodes:
        conn = open_connection(node.app.store.db.path)
        try:
            fingerprints.append(_fingerprint(conn))
        finally:
            conn.close()
    assert fingerprints[0] == fingerprints[1]


def _columns_match_fields(node: Node, name: str) -> tuple[list[str], list[str]]:
    conn = open_connection(node.app.store.db.path)
    try:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info(`{name}`)")]
        (fields,) = conn.execute("SELECT fields FROM _collections WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    return columns, [f["name"] for f in json.loads(fields)]


async def test_collection_edits_from_the_same_read_on_two_nodes_converge(nodes: list[Node]) -> None:
    """Two nodes change one collection at once, each from the fields it read before either change
    (what an admin UI in two tabs does). The write that comes second runs on the state the first
    left (after catching up, or on a retry): it must diff against that state, not against the
    collection as its node knew it when the request arrived, or its node keeps a column that the
    collection no longer has while every other node drops it."""
    a, b = nodes
    made = await a.call(
        "POST", "/api/collections", {"name": "tabs", "fields": [{"name": "t", "type": "text"}]}
    )
    assert made.status_code == 200, made.text
    await _converged(nodes, (await a.replicator.changelog.info()).state.last_seq)
    fields = made.json()["fields"]
    for round_ in range(4):
        results = await asyncio.gather(
            a.call(
                "PATCH",
                "/api/collections/tabs",
                {"fields": [*fields, {"name": f"a{round_}", "type": "text"}]},
            ),
            b.call(
                "PATCH",
                "/api/collections/tabs",
                {"fields": [*fields, {"name": f"b{round_}", "type": "text"}]},
            ),
        )
        assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
        await _converged(nodes, (await a.replicator.changelog.info()).state.last_seq)
        for node in nodes:
            columns, names = _columns_match_fields(node, "tabs")
            assert columns == names, (node.replicator.node, columns, names)


async def test_record_writes_follow_a_field_removed_on_another_node(nodes: list[Node]) -> None:
    """A record write runs on the collection as its group finds it: a field that another node
    removed just before (applied by this node's catch-up, or before its retry) is no column to
    write any more, however the request's node knew the collection when the request came in."""
    a, b = nodes
    for round_ in range(4):
        name = f"shrinking{round_}"
        made = await a.call(
            "POST",
            "/api/collections",
            {"name": name, "fields": [{"name": "keep", "type": "text"}, {"name": "gone", "type": "text"}]},
        )
        assert made.status_code == 200, made.text
        await _converged(nodes, (await a.replicator.changelog.info()).state.last_seq)
        fields = [f for f in made.json()["fields"] if f["name"] != "gone"]
        removed, written = await asyncio.gather(
            a.call("PATCH", f"/api/collections/{name}", {"fields": fields}),
            b.call("POST", f"/api/collections/{name}/records", {"keep": "k", "gone": "g"}),
        )
        assert removed.status_code == 200, removed.text
        assert written.status_code == 200, written.text
        await _converged(nodes, (await a.replicator.changelog.info()).state.last_seq)
        for node in nodes:
            columns, names = _columns_match_fields(node, name)
            assert columns == names, (node.replicator.node, columns, names)

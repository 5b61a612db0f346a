"""The `--ha` state machine fed from a list: entries captured from a real App's write groups,
applied to a copy of its database taken before the writes, must rebuild the same database."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest
from litestar.testing import AsyncTestClient

from core.api import build_asgi
from core.app import App
from core.ha import entry as entry_mod
from core.ha.applier import Applier, ApplyError, Mode, read_state, start_state
from core.ha.entry import MAGIC, Entry, NotAnEntry, UnreadableEntry, decode, encode
from core.store.db import Change, open_connection


def _entry(change: Change) -> bytes:
    schema = bool(change.tags.get("collections_changed"))
    return encode(
        Entry("a", change.changeset, schema, {k: v for k, v in change.tags.items() if k == "records"})
    )


def _fingerprint(conn: apsw.Connection) -> dict[str, Any]:
    """Schema and a checksum of every table's rows (by primary key order)."""
    out: dict[str, Any] = {}
    objects = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name != '_ha_state' "
        "ORDER BY type, name"
    ).fetchall()
    for kind, name, sql in objects:
        out[f"{kind}:{name}"] = sql
        if kind == "table":
            digest = hashlib.sha256()
            for row in conn.execute(f"SELECT * FROM `{name}` ORDER BY 1"):
                digest.update(repr(row).encode())
            out[f"rows:{name}"] = digest.hexdigest()
    return out


@pytest.fixture
def replica(app: App, tmp_path: Path) -> Iterator[apsw.Connection]:
    """A copy of the App's data.db as it is now: the state of the stream at sequence 0."""
    path = tmp_path / "replica.db"
    conn = open_connection(path)
    with conn.backup("main", app.store.db._write_conn, "main") as b:  # noqa: SLF001 - the test's own copy
        b.step()
    start_state(conn, "pb", 0)
    yield conn
    conn.close()


async def test_a_replica_rebuilds_schema_and_rows_from_the_entries(
    app: App, replica: apsw.Connection, tokens: dict[str, str]
) -> None:
    log: list[bytes] = []
    app.store.db.commit_hooks.append(lambda change: log.append(_entry(change)))
    async with AsyncTestClient(app=build_asgi(app)) as client:
        call = api_caller(client, tokens["superuser"])
        col = await call(
            "POST",
            "/api/collections",
            {
                "name": "things",
                "type": "base",
                "fields": [
                    {"name": "title", "type": "text"},
                    {"name": "n", "type": "number"},
                    {"name": "kind", "type": "select", "values": ["a", "b"], "maxSelect": 1},
                ],
                "indexes": ["CREATE UNIQUE INDEX idx_things_title ON things (title)"],
            },
        )
        ids = [
            (await call("POST", "/api/collections/things/records", {"title": f"t{i}", "n": i, "kind": "a"}))[
                "id"
            ]
            for i in range(5)
        ]
        await call("PATCH", f"/api/collections/things/records/{ids[0]}", {"n+": 10})
        await call("DELETE", f"/api/collections/things/records/{ids[1]}")
        fields = col["fields"]
        kind = next(f for f in fields if f["name"] == "kind")
        kind.update(maxSelect=2, name="kinds")  # rename + single -> multi: a converted column
        fields = [f for f in fields if f["name"] != "n"] + [{"name": "extra", "type": "bool"}]
        await call("PATCH", "/api/collections/things", {"name": "stuff", "fields": fields})
        await call(
            "POST", "/api/collections/stuff/records", {"title": "after", "kinds": ["a", "b"], "extra": True}
        )
        await call(
            "POST",
            "/api/collections",
            {"name": "v", "type": "view", "viewQuery": "SELECT id, title FROM stuff"},
        )
        await call("PATCH", f"/api/collections/posts/records/{_first_post(app)}", {"views": 42})
        await call("DELETE", "/api/collections/comments")

    applier = Applier(replica)
    for seq, payload in enumerate(log, start=1):
        applied = applier.apply(seq, payload)
        assert applied is not None and applied.change is not None
    assert read_state(replica).seq == len(log)  # type: ignore[union-attr]
    primary = open_connection(app.store.db.path)
    try:
        assert _fingerprint(replica) == _fingerprint(primary)
    finally:
        primary.close()
    # a redelivered message is recognised by its sequence and changes nothing
    assert applier.apply(len(log), log[-1]) is None
    assert applier.apply(1, log[0]) is None


def api_caller(client: Any, token: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    """`call(method, url, body)`: the JSON of a request that must succeed, as `token`."""

    async def call(method: str, url: str, body: Any = None) -> dict[str, Any]:
        response = await client.request(method, url, json=body, headers={"Authorization": token})
        assert response.status_code in (200, 204), response.text
        return response.json() if response.status_code == 200 else {}

    return call


def _first_post(app: App) -> str:
    return str(
        app.store.db.read_sync(lambda c: c.execute("SELECT id FROM posts ORDER BY id LIMIT 1").fetchone()[0])
    )


def _table(conn: apsw.Connection) -> None:
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)")


def _changeset(conn: apsw.Connection, *sql: str) -> bytes:
    session = apsw.Session(conn, "main")
    session.attach()
    with conn:
        for statement in sql:
            conn.execute(statement)
    changeset = session.changeset()
    session.close()
    return changeset


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[apsw.Connection, apsw.Connection]]:
    writer, node = open_connection(tmp_path / "w.db"), open_connection(tmp_path / "n.db")
    for conn in (writer, node):
        _table(conn)
        start_state(conn, "pb", 0)
    yield writer, node
    writer.close()
    node.close()


def test_garbage_on_the_subject_is_skipped_and_counted(pair: tuple[apsw.Connection, apsw.Connection]) -> None:
    writer, node = pair
    applier = Applier(node)
    assert applier.apply(1, b'{"hello": "world"}').entry is None  # type: ignore[union-attr]
    assert applier.apply(2, b"") is not None
    good = encode(Entry("w", _changeset(writer, "INSERT INTO t VALUES ('a', 1)")))
    assert applier.apply(3, good) is not None
    state = read_state(node)
    assert state is not None and (state.seq, state.skipped) == (3, 2)
    assert node.execute("SELECT v FROM t WHERE id='a'").fetchone() == (1,)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (MAGIC + bytes([entry_mod.FORMAT_VERSION + 1]) + b"\x80", "upgrade this node"),
        (MAGIC + bytes([entry_mod.FORMAT_VERSION]) + b"\xff\xfe", "does not decode"),
    ],
)
def test_an_entry_this_node_cannot_read_stops_it_and_is_never_skipped(
    pair: tuple[apsw.Connection, apsw.Connection], payload: bytes, reason: str
) -> None:
    _, node = pair
    applier = Applier(node)
    for _ in range(2):  # asking again does not get it past the entry
        with pytest.raises(ApplyError, match=reason):
            applier.apply(1, payload)
    assert read_state(node).seq == 0  # type: ignore[union-attr]


def test_decode_tells_garbage_from_entries() -> None:
    with pytest.raises(NotAnEntry):
        decode(b"\x82\xa1a\x01")
    with pytest.raises(UnreadableEntry):
        decode(MAGIC + b"\x09")
    roundtrip = decode(encode(Entry("n", b"cs", True, {"records": [["create", "c", "r"]]})))
    assert roundtrip == Entry("n", b"cs", True, {"records": [["create", "c", "r"]]})


def test_a_gap_in_the_sequence_stops_the_node(pair: tuple[apsw.Connection, apsw.Connection]) -> None:
    writer, node = pair
    good = encode(Entry("w", _changeset(writer, "INSERT INTO t VALUES ('a', 1)")))
    with pytest.raises(ApplyError, match="gap"):
        Applier(node).apply(2, good)
    assert node.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_serializable_mode_treats_any_conflict_as_divergence(
    pair: tuple[apsw.Connection, apsw.Connection],
) -> None:
    writer, node = pair
    with node:
        node.execute("INSERT INTO t VALUES ('a', 5)")  # this node has something the log never said
    entry = encode(Entry("w", _changeset(writer, "INSERT INTO t VALUES ('a', 1)")))
    with pytest.raises(ApplyError, match="diverged: row exists on t INSERT"):
        Applier(node).apply(1, entry)
    # nothing of the entry, and not its sequence, was committed
    assert node.execute("SELECT v FROM t").fetchall() == [(5,)]
    assert read_state(node).seq == 0  # type: ignore[union-attr]


def test_last_writer_wins_resolves_conflicts_in_stream_order(
    pair: tuple[apsw.Connection, apsw.Connection],
) -> None:
    writer, node = pair
    with writer:
        writer.execute("INSERT INTO t VALUES ('a', 1)")
    with node:
        node.execute("INSERT INTO t VALUES ('a', 1)")
    # two nodes updated the same row from the same state; the stream ordered b's change after a's
    from_a = encode(Entry("a", _changeset(writer, "UPDATE t SET v = 2 WHERE id = 'a'")))
    with writer:
        writer.execute("UPDATE t SET v = 1 WHERE id = 'a'")
    from_b = encode(Entry("b", _changeset(writer, "UPDATE t SET v = 3 WHERE id = 'a'")))
    with writer:
        writer.execute("UPDATE t SET v = 7 WHERE id = 'a'")  # c deleted the row as it saw it
    gone = encode(Entry("c", _changeset(writer, "DELETE FROM t WHERE id = 'a'")))
    applier = Applier(node, Mode.LAST_WRITER_WINS)
    assert applier.apply(1, from_a).conflicts == {}  # type: ignore[union-attr]
    assert applier.apply(2, from_b).conflicts == {"t": 1}  # type: ignore[union-attr]
    assert node.execute("SELECT v FROM t").fetchall() == [(3,)]
    assert applier.apply(3, gone).conflicts == {"t": 1}  # type: ignore[union-attr]
    assert node.execute("SELECT count(*) FROM t").fetchone() == (0,)
    with pytest.raises(ApplyError):
        Applier(node, Mode.SERIALIZABLE).apply(4, from_b)  # the same entry is a divergence there


def test_a_database_not_derived_from_a_log_refuses_entries(tmp_path: Path) -> None:
    conn = open_connection(tmp_path / "x.db")
    _table(conn)
    with pytest.raises(ApplyError, match="not derived"):
        Applier(conn).apply(1, encode(Entry("w")))
    conn.close()

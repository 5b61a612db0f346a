"""The write path of `Database`: group commit, one changeset per group, errors per write."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import apsw
import pytest

from core.store.db import Change, Database, WriteContext


@pytest.fixture
def db(tmp_path: Path) -> Any:
    database = Database(tmp_path / "t.db", readers=1)
    database.open()
    database.write_sync(lambda ctx: ctx.conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)"))
    yield database
    database.close()


def _insert(row_id: str, value: int, fail: bool = False) -> Any:
    def op(ctx: WriteContext) -> str:
        ctx.conn.execute("INSERT INTO t VALUES (?, ?)", (row_id, value))
        ctx.tags.setdefault("records", []).append(row_id)
        if fail:
            raise ValueError(f"{row_id} refused")
        ctx.tags["flag"] = row_id
        return row_id

    return op


def _rows(change: Change) -> list[tuple[Any, ...]]:
    return sorted(tuple(item.new) for item in apsw.Changeset.iter(change.changeset))


async def test_a_group_commits_once_with_the_net_changes_of_its_successful_writes(db: Database) -> None:
    changes: list[Change] = []
    db.commit_hooks.append(changes.append)  # run before the ack: no race
    gate = threading.Event()
    blocker = asyncio.ensure_future(db.write(lambda ctx: gate.wait(5)))
    await asyncio.sleep(0.05)  # the writer is busy: the next writes queue up into one group
    writes = [
        asyncio.ensure_future(db.write(_insert("a", 1))),
        asyncio.ensure_future(db.write(_insert("b", 2, fail=True))),
        asyncio.ensure_future(db.write(_insert("c", 3))),
    ]
    await asyncio.sleep(0.05)
    gate.set()
    await blocker
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], ValueError)
    group = changes[-1]
    assert _rows(group) == [("a", 1), ("c", 3)]  # b was rolled back to its savepoint
    assert group.tags == {"records": ["a", "c"], "flag": "a"}
    stored = db.read_inline(lambda c: list(c.execute("SELECT id FROM t ORDER BY id")))
    assert stored == [("a",), ("c",)]


async def test_a_write_that_nets_to_nothing_leaves_no_changeset(db: Database) -> None:
    changes: list[Change] = []
    db.commit_hooks.append(changes.append)  # run before the ack: no race

    def insert_then_delete(ctx: WriteContext) -> None:
        ctx.conn.execute("INSERT INTO t VALUES ('x', 1)")
        ctx.conn.execute("DELETE FROM t WHERE id = 'x'")

    await db.write(insert_then_delete)
    assert changes == []


async def test_without_changesets_the_tags_still_travel(tmp_path: Path) -> None:
    database = Database(tmp_path / "plain.db", readers=1, changesets=False)
    database.open()
    try:
        changes: list[Change] = []
        database.commit_hooks.append(changes.append)
        await database.write(lambda ctx: ctx.conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)"))
        await database.write(_insert("a", 1))
        assert changes[-1].changeset == b"" and changes[-1].tags == {"records": ["a"], "flag": "a"}
    finally:
        database.close()

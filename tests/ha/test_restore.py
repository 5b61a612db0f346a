"""A backup restore under --ha is one changelog entry (in-process nodes on one real nats-server):
every node applies it, the one that restored included; later entries apply on top; a node that
replays across it fetches its data; the data is kept while the entry is in the stream."""

from __future__ import annotations

import asyncio
import shutil
import zipfile
from pathlib import Path
from typing import Any

import apsw
import pytest

from core.api import backups
from core.ha import restore, snapshot
from core.ha.applier import ApplyError, State, read_state, start_state
from core.ha.entry import Entry, decode, encode
from tests.ha.test_node import _create_posts, _same, _state, cluster, superuser_client
from tests.ha.test_sweep import create_docs

__all__ = ["cluster"]  # the fixture, shared with test_node.py


def _titles(app: Any) -> set[str]:
    return set(app.store.db.read_sync(lambda c: [r[0] for r in c.execute("SELECT title FROM posts")]))


def test_a_restore_entry_is_format_2_and_a_write_group_stays_1() -> None:
    group = encode(Entry("n", b"cs"))
    restored = encode(Entry("n", restore="restore/abc"))
    assert group[5] == 1 and restored[5] == 2  # an older core stops at a restore, not at a write
    assert decode(restored).restore == "restore/abc" and decode(group).restore == ""


async def test_a_restore_reaches_every_node_and_writes_go_on(
    cluster: Any, fixture_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="core.ha")
    shutil.copytree(fixture_dir, tmp_path / "a")
    a_app, a_node = await cluster("a", tmp_path / "a")
    b_app, _ = await cluster("b", tmp_path / "b")
    a_app.services["ha"] = a_node
    backups.on_startup(a_app)
    await _create_posts(a_app, ["kept-1", "kept-2"])
    async with superuser_client(a_app) as client:
        made = await client.post("/api/backups", json={"name": "before.zip"})
        assert made.status_code == 204, made.text
        await _create_posts(b_app, ["after-backup"])
        await _same(a_app, b_app)
        assert "after-backup" in _titles(a_app)
        before = _state(a_app).seq

        missing = await client.post("/api/backups/nope.zip/restore")
        assert missing.status_code == 400 and _state(a_app).seq == before  # nothing appended

        restored = await client.post("/api/backups/before.zip/restore")
        assert restored.status_code == 204, restored.text
    seq = before + 1
    assert _state(a_app).seq == seq  # the restoring node applied its own entry
    await _same(a_app, b_app)
    for app in (a_app, b_app):
        titles = _titles(app)
        assert {"kept-1", "kept-2"} <= titles and "after-backup" not in titles
        assert _state(app).stream == a_node.identity and _state(app).skipped == 0
    # the caches followed: the collections and the writes work on both
    await _create_posts(b_app, ["after-restore-b"])
    await _create_posts(a_app, ["after-restore-a"])
    await _same(a_app, b_app)
    assert {"after-restore-a", "after-restore-b"} <= _titles(b_app)

    # a node that joins now starts from snapshot 0 and replays across the restore entry
    c_app, _ = await cluster("c", tmp_path / "c")
    assert "restored snapshot at entry 0" in caplog.text
    await _same(a_app, c_app)
    assert "after-backup" not in _titles(c_app)

    # the restore's data stays while its entry is in the stream, and goes once it is trimmed
    bucket = await snapshot.bucket(cluster.js, "pbjoin", 1)
    objects = [o for o in await bucket.list(ignore_deletes=True) if o.name.startswith(restore.PREFIX)]
    assert len(objects) == 1 and (objects[0].headers or {})[snapshot.SEQ_HEADER] == str(seq)
    assert await restore.forget_replayed(bucket, first_seq=seq) == 0
    assert await restore.forget_replayed(bucket, first_seq=seq + 1) == 1
    assert not [o for o in await bucket.list(ignore_deletes=True) if o.name.startswith(restore.PREFIX)]

    # were it deleted too early, a node replaying across the entry stops there, loudly: never skips it
    d_app, d_node = await cluster("d", tmp_path / "d")
    for _ in range(200):
        if d_node.replicator.stalled:
            break
        await asyncio.sleep(0.05)
    assert "gone from the snapshot bucket" in (d_node.problem() or "")
    assert _state(d_app).seq == seq - 1


async def test_a_backup_holds_the_files_this_node_never_served(
    cluster: Any, fixture_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(fixture_dir, tmp_path / "a")
    a_app, a_node = await cluster("a", tmp_path / "a")
    b_app, _ = await cluster("b", tmp_path / "b")
    a_app.services["ha"] = a_node
    backups.on_startup(a_app)
    async with superuser_client(b_app) as client:
        made = await create_docs(client)
        up = await client.post("/api/collections/docs/records", files={"doc": ("b.txt", b"from b")})
        assert up.status_code == 200, up.text
    await _same(a_app, b_app)
    member = f"storage/{made.json()['id']}/{up.json()['id']}/{up.json()['doc']}"
    assert not (a_app.store.dir / member).exists()  # a has the record, not the file
    async with superuser_client(a_app) as client:
        assert (await client.post("/api/backups", json={"name": "all.zip"})).status_code == 204
    with zipfile.ZipFile(a_app.store.dir / "backups" / "all.zip") as archive:
        assert archive.read(member) == b"from b"


def test_restore_data_of_another_page_size_replaces_a_wal_database(tmp_path: Path) -> None:
    """A WAL database only takes a backup of its own page size: the restore's copy is converted."""
    live = apsw.Connection(str(tmp_path / "live.db"))
    live.execute("PRAGMA journal_mode=WAL")
    with live:
        start_state(live, "stream-id", 7)
        live.execute("UPDATE _ha_state SET skipped = 2")
        live.execute("CREATE TABLE old (a)")
    reader = apsw.Connection(str(tmp_path / "live.db"))
    backup = tmp_path / "backup.db"
    other = apsw.Connection(str(backup))
    other.execute("PRAGMA page_size=8192; VACUUM; CREATE TABLE kept (a); INSERT INTO kept VALUES (1)")
    other.close()
    restore._prepare(8, backup, "stream-id", 2, 4096)
    restore._replace(8, live, backup)
    tables = {r[0] for r in reader.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert tables == {"kept", "_ha_state"}
    assert read_state(reader) == State("stream-id", 8, 2)
    assert reader.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with pytest.raises(ApplyError, match="cannot be read"):
        restore._prepare(9, tmp_path / "junk.db", "stream-id", 2, 4096)


async def test_writes_racing_a_restore_land_before_or_after_it_alike_on_every_node(
    cluster: Any, fixture_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(fixture_dir, tmp_path / "a")
    a_app, a_node = await cluster("a", tmp_path / "a")
    b_app, b_node = await cluster("b", tmp_path / "b")
    a_app.services["ha"], b_app.services["ha"] = a_node, b_node  # X-Core-Seq on responses
    backups.on_startup(a_app)
    async with superuser_client(a_app) as a, superuser_client(b_app) as b:
        assert (await a.post("/api/backups", json={"name": "base.zip"})).status_code == 204
        acked: dict[str, int] = {}

        async def writes() -> None:
            for i in range(30):
                resp = await b.post("/api/collections/posts/records", json={"title": f"race-{i}"})
                assert resp.status_code == 200, resp.text
                acked[f"race-{i}"] = int(resp.headers["x-core-seq"])

        restored, _ = await asyncio.gather(a.post("/api/backups/base.zip/restore"), writes())
        assert restored.status_code == 204, restored.text
    await _same(a_app, b_app)
    bucket = await snapshot.bucket(cluster.js, "pbjoin", 1)
    (info,) = [o for o in await bucket.list(ignore_deletes=True) if o.name.startswith(restore.PREFIX)]
    at = int((info.headers or {})[snapshot.SEQ_HEADER])
    titles = _titles(b_app)
    assert {t for t, seq in acked.items() if seq > at} <= titles  # written after the restore: kept
    assert not {t for t, seq in acked.items() if seq < at} & titles  # before it: the backup wins

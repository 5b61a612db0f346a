"""The file bucket's sweep (after a snapshot, under its lease): objects no record names go once
older than the grace period; what records name, and anything younger, stays."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import httpx

from core.ha.files import object_name, referenced_files
from tests.ha.test_node import _state, cluster, superuser_client

__all__ = ["cluster"]  # the fixture, shared with test_node.py


async def create_docs(client: httpx.AsyncClient, max_select: int = 1) -> httpx.Response:
    """A `docs` collection with one file field `doc`."""
    field = {"name": "doc", "type": "file", "maxSelect": max_select, "maxSize": 1000}
    made = await client.post("/api/collections", json={"name": "docs", "fields": [field]})
    assert made.status_code == 200, made.text
    return made


async def _names(node: Any) -> set[str]:
    store = await node.files.store()
    return {str(info.name) for info in await store.list(ignore_deletes=True)}


async def test_orphans_are_swept_and_named_or_young_files_stay(
    cluster: Any, fixture_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(fixture_dir, tmp_path / "a")
    app, node = await cluster("a", tmp_path / "a", orphan_grace=3600.0)
    async with superuser_client(app) as client:
        made = await create_docs(client, max_select=3)
        kept = await client.post(
            "/api/collections/docs/records", files=[("doc", ("a.txt", b"a")), ("doc", ("b.txt", b"b"))]
        )
        assert kept.status_code == 200, kept.text
    collection, record = made.json()["id"], kept.json()["id"]
    named = {object_name(collection, record, n) for n in kept.json()["doc"]}
    assert app.store.db.read_sync(referenced_files) >= named
    # objects no record names: an upload whose write failed after it, a removal that was lost
    stray = tmp_path / "stray.txt"
    stray.write_bytes(b"orphan")
    orphans = {
        object_name(collection, "deadrecord12345", "lost.txt"),
        object_name(collection, record, "old.txt"),
    }
    for key in orphans:
        await node.files.upload(stray, key)
    assert await _names(node) >= named | orphans

    upkeep = node.upkeep
    assert upkeep is not None
    # young: they may belong to an entry not applied yet, so nothing goes
    await upkeep.snapshot_under_lease(_state(app).seq)
    assert await _names(node) >= named | orphans and upkeep.orphans_deleted == 0

    upkeep.settings = dataclasses.replace(upkeep.settings, orphan_grace=0.0)
    await upkeep.snapshot_under_lease(_state(app).seq)
    left = await _names(node)
    assert named <= left and not orphans & left
    assert upkeep.orphans_deleted == len(orphans)
    # the files the records name are still served
    async with superuser_client(app) as client:
        for name in kept.json()["doc"]:
            assert (await client.get(f"/api/files/docs/{record}/{name}")).status_code == 200

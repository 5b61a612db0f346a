"""Entries written by earlier changelog formats stay readable (a rolling upgrade has old and new
nodes writing to one stream). `golden/format1.json` holds real format-1 entries, captured from an
App's write groups when format 1 was current; they must apply to the state they were made on
(the fixture data dir) with every later core. Regenerate only on purpose:
`CORE_HA_WRITE_GOLDEN=1 pytest tests/ha/test_entry_formats.py`."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import apsw
import pytest
from litestar.testing import AsyncTestClient

from core.api import build_asgi
from core.app import App
from core.ha.applier import Applier, read_state
from core.ha.entry import FORMAT_VERSION, Entry, decode, encode
from core.ha.replicator import SHIPPED_TAGS
from core.store.db import Change
from tests.ha.test_applier import api_caller, replica

__all__ = ["replica"]

GOLDEN = Path(__file__).parent / "golden" / "format1.json"


def _load() -> list[bytes]:
    data = json.loads(GOLDEN.read_text())
    assert data["format"] == 1
    return [base64.b64decode(item) for item in data["entries"]]


def test_format_1_entries_still_apply(replica: apsw.Connection) -> None:
    payloads = _load()
    assert {p[5] for p in payloads} == {1}  # the version byte after the magic
    applier = Applier(replica)
    for seq, payload in enumerate(payloads, start=1):
        applied = applier.apply(seq, payload)
        assert applied is not None and applied.entry is not None, seq
    assert read_state(replica).seq == len(payloads)  # type: ignore[union-attr]
    columns = [row[1] for row in replica.execute("PRAGMA table_info(golden)")]
    assert columns == ["id", "title", "n", "tags", "meta", "renamed"]
    rows = replica.execute("SELECT title, n, tags, meta, renamed FROM golden ORDER BY title").fetchall()
    assert rows == [("one", 11, '["a","b"]', '{"k":1}', ""), ("three", 3, '["b"]', None, "late")]
    assert replica.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'idx_golden_title'"
    ).fetchone() == (1,)
    first = decode(payloads[0])
    assert first.schema and first.node == "golden"


@pytest.mark.skipif(not os.environ.get("CORE_HA_WRITE_GOLDEN"), reason="regenerates the golden file")
async def test_write_golden(app: App, tokens: dict[str, str]) -> None:
    assert FORMAT_VERSION == 1, "the golden file of format 1 is written by a core that writes format 1"
    log: list[bytes] = []

    def capture(change: Change) -> None:
        tags = {k: v for k, v in change.tags.items() if k in SHIPPED_TAGS}
        log.append(
            encode(Entry("golden", change.changeset, bool(change.tags.get("collections_changed")), tags))
        )

    app.store.db.commit_hooks.append(capture)
    async with AsyncTestClient(app=build_asgi(app)) as client:
        call = api_caller(client, tokens["superuser"])
        col = await call(
            "POST",
            "/api/collections",
            {
                "name": "golden",
                "fields": [
                    {"name": "title", "type": "text"},
                    {"name": "n", "type": "number"},
                    {"name": "tags", "type": "select", "values": ["a", "b"], "maxSelect": 2},
                    {"name": "meta", "type": "json"},
                ],
                "indexes": ["CREATE UNIQUE INDEX idx_golden_title ON golden (title)"],
            },
        )
        one = await call(
            "POST",
            "/api/collections/golden/records",
            {"title": "one", "n": 1, "tags": ["a", "b"], "meta": {"k": 1}},
        )
        two = await call("POST", "/api/collections/golden/records", {"title": "two", "n": 2})
        await call("PATCH", f"/api/collections/golden/records/{one['id']}", {"n+": 10})
        await call("DELETE", f"/api/collections/golden/records/{two['id']}")
        await call(
            "PATCH",
            "/api/collections/golden",
            {"fields": [*col["fields"], {"name": "later", "type": "text"}]},
        )
        fields = (await call("GET", "/api/collections/golden"))["fields"]
        for f in fields:
            if f["name"] == "later":
                f["name"] = "renamed"
        await call("PATCH", "/api/collections/golden", {"fields": fields})
        await call(
            "POST",
            "/api/collections/golden/records",
            {"title": "three", "n": 3, "tags": ["b"], "renamed": "late"},
        )
    entries = [base64.b64encode(p).decode() for p in log]
    GOLDEN.write_text(json.dumps({"format": 1, "entries": entries}, indent=1) + "\n")

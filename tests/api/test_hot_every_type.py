"""The hot record routes against Litestar's on a collection with every field type, odd values
included, so the per-collection codecs (core/store/codec.py) and the sorted-page path
(record_query.rows_by_id) answer byte for byte as the reference routes do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.api import build_asgi
from core.app import App
from tests.conftest import fixture_app

EVERY = {
    "id": "pbc_1234567890",
    "name": "every",
    "type": "base",
    "listRule": "",
    "viewRule": "",
    "createRule": "",
    "updateRule": "",
    "fields": [
        {"name": "title", "type": "text"},
        {"name": "views", "type": "number"},
        {"name": "ok", "type": "bool"},
        {"name": "mail", "type": "email"},
        {"name": "site", "type": "url"},
        {"name": "body", "type": "editor"},
        {"name": "due", "type": "date"},
        {"name": "status", "type": "select", "values": ["a", "b", "c"], "maxSelect": 1},
        {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
        {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        {"name": "doc", "type": "file", "maxSelect": 1},
        {"name": "docs", "type": "file", "maxSelect": 4},
        {"name": "meta", "type": "json"},
        {"name": "spot", "type": "geoPoint"},
        {"name": "note", "type": "text", "hidden": True},
        {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
        {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
    ],
}
P = "/api/collections/every/records"

BODIES: list[dict[str, Any]] = [
    {
        "id": "every0000000001",
        "title": "plain",
        "views": 3,
        "ok": True,
        "mail": "a@b.co",
        "site": "https://x.io/p",
    },
    {"id": "every0000000002", "title": 12.5, "views": "7.25", "ok": "1", "due": "2025-01-15 10:00:00.000Z"},
    {"id": "every0000000003", "due": "2025-02-01T08:30:00+02:00", "status": "b", "tags": ["c", "a", "c"]},
    {
        "id": "every0000000004",
        "meta": {"z": 1, "a": [1.5, None, "<&>"], "big": 2**60},
        "spot": {"lon": 1.5, "lat": -2},
    },
    {"id": "every0000000005", "body": "<p>hi\u2028there</p>", "note": "hidden", "views": 1e21, "tags": "a"},
    {"id": "every0000000006", "meta": "not json", "title": "", "views": -0.0, "ok": "false", "due": "junk"},
    {"id": "every0000000007", "meta": '{"k": [1, 2]}', "title": "ties", "views": 3},
    {"id": "every0000000008", "title": "ties", "views": 3, "due": "0001-01-01 00:00:00.000Z"},
]

READS = [
    P,
    P + "?sort=-views,title",
    P + "?sort=views&perPage=3&page=2",
    P + "?sort=title&fields=id,title,meta,tags",
    P + "?sort=-due&filter=" + "views%3E0",
    P + "?sort=@random&perPage=1&skipTotal=1&fields=id:excerpt(3)",
    P + "/every0000000004",
    P + "/every0000000005?fields=*,body:excerpt(4,true)",
    P + "/every0000000006",
]


@pytest.fixture
async def clients(app: App, fixture_dir: Path, tmp_path: Path) -> AsyncIterator[tuple[Any, Any]]:
    """The hot path on `app`, Litestar's routes on a twin copy of the same data."""
    with fixture_app(fixture_dir, tmp_path / "twin") as twin:
        for core in (app, twin):
            await core.store.create_collection(json.loads(json.dumps(EVERY)))
        async with (
            AsyncTestClient(app=build_asgi(app)) as hot,
            AsyncTestClient(app=build_asgi(twin, hot_routes=False)) as ref,
        ):
            yield hot, ref


def _masked(data: Any) -> Any:
    """The answer without the autodates (the twins stamp their own times), key order kept."""
    if isinstance(data, list):
        return [_masked(v) for v in data]
    if isinstance(data, dict):
        return {k: _masked(v) for k, v in data.items() if k not in ("created", "updated")}
    return data


def _text(resp: Any) -> str:
    return json.dumps(_masked(resp.json()))


async def test_every_type_answers_alike(clients: tuple[Any, Any], tokens: dict[str, str]) -> None:
    hot, ref = clients
    for body in BODIES:
        a, b = await hot.post(P, json=body), await ref.post(P, json=body)
        assert a.status_code == b.status_code == 200, (a.text, b.text)
        assert _text(a) == _text(b)
    for url in READS:
        for auth in (None, tokens["superuser"]):
            headers = {"Authorization": auth} if auth else {}
            a, b = await hot.get(url, headers=headers), await ref.get(url, headers=headers)
            assert a.status_code == b.status_code == 200, url
            if "@random" not in url:
                assert _text(a) == _text(b), url
    patch = {"views+": 2, "tags+": "b", "due": "", "created": "2020-01-01 00:00:00.000Z"}
    a, b = (
        await hot.patch(P + "/every0000000002", json=patch),
        await ref.patch(P + "/every0000000002", json=patch),
    )
    assert a.status_code == b.status_code == 200
    assert _text(a) == _text(b)
    assert a.json()["views"] == 9.25 and a.json()["created"] != "2020-01-01 00:00:00.000Z"

"""Uploads: stored names as PocketBase normalises them, and request uploads kept out of memory."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar, Request, post
from litestar.testing import AsyncTestClient

from core.api._body import read_body
from core.app import App
from core.store.fields.file import UploadedFile, stored_name
from tests.files.test_files_api import DOCS

R = "[a-z0-9]{10}"


# what the pocketbase 0.40.6 binary stored for these names (the random parts vary)
@pytest.mark.parametrize(
    ("original", "pattern"),
    [
        ("note.c++", rf"note_{R}\.c\+\+"),
        ("a=b.tx=t", rf"a_b_{R}\.tx=t"),
        ("x#y.t#", rf"x_y_{R}\.t#"),
        ("st*r.*", rf"st_r_{R}\.\*"),
        ("..hidden", rf"{R}_{R}\.hidden"),
        ("a.", rf"a{R}_{R}\.txt"),
        ("..", rf"{R}_{R}\.txt"),
        ("Žluť.txt", rf"lu{R}_{R}\.txt"),
        ("x.tar.gz", rf"x{R}_{R}\.tar\.gz"),
        ("myTestDB.PNG", rf"my_test_db_{R}\.PNG"),
    ],
)
def test_stored_names_follow_pocketbase(original: str, pattern: str) -> None:
    assert re.fullmatch(pattern, stored_name(original, b"hello world")), stored_name(original, b"hello world")


async def test_odd_names_are_stored_and_served(client: AsyncTestClient[Any], tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    assert (await client.post("/api/collections", json=DOCS, headers=su)).status_code == 200
    names = ["note.c++", "a=b.tx=t", "st*r.*", "x#y.t#"]
    resp = await client.post(
        "/api/collections/docs/records",
        files=[("many", (n, f"content of {n}".encode(), "text/plain")) for n in names[:3]]
        + [("one", (names[3], b"hash", "text/plain"))],
        headers=su,
    )
    assert resp.status_code == 200, resp.text
    record = resp.json()
    stored = [*record["many"], record["one"]]
    assert [s.rsplit(".", 1)[1] for s in stored] == ["c++", "tx=t", "*", "t#"]
    for name, original in zip(stored, names, strict=True):
        served = await client.get(f"/api/files/docs/{record['id']}/{name.replace('#', '%23')}")
        assert served.status_code == 200, (name, served.text)
        assert served.content == (b"hash" if original == "x#y.t#" else f"content of {original}".encode())


@post("/probe", status_code=200)
async def _probe(request: Request[Any, Any, Any]) -> dict[str, Any]:
    # a limit streams through core's own parser call (the record routes); none uses Litestar's form()
    limit = int(request.query_params["limit"]) or None
    body = await read_body(request, limit)
    upload = body["file"][0]
    assert isinstance(upload, UploadedFile)
    return {
        "in_memory": len(upload.data),
        "spooled_to_disk": bool(upload.spool is not None and getattr(upload.spool, "_rolled", False)),
        "size": upload.size,
        "head": upload.head(4).decode(),
        "name": upload.name,
    }


@pytest.mark.parametrize("limit", [0, 10 << 20])
async def test_request_uploads_stay_in_the_parser_temp_file(limit: int) -> None:
    """The mechanism behind the memory figures: a multipart upload is written by the parser to a
    spooled temporary file (on disk past 1 MB) and the record write copies it from there."""
    content = b"%PDF" + b"x" * (3 << 20)
    async with AsyncTestClient(app=Litestar(route_handlers=[_probe])) as client:
        resp = await client.post(
            f"/probe?limit={limit}", files={"file": ("big.pdf", content, "application/pdf")}
        )
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["in_memory"] == 0 and answer["spooled_to_disk"] is True
    assert answer["size"] == len(content) and answer["head"] == "%PDF"
    assert re.fullmatch(rf"big_{R}\.pdf", answer["name"])


async def test_spooled_upload_is_saved_whole(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str]
) -> None:
    su = {"Authorization": tokens["superuser"]}
    blobs = {
        "name": "blobs",
        "type": "base",
        "fields": [{"name": "big", "type": "file", "maxSize": 10 << 20}],
    }
    assert (await client.post("/api/collections", json=blobs, headers=su)).status_code == 200
    content = bytes(range(256)) * (12 << 10)  # 3 MB, past the spool threshold
    resp = await client.post(
        "/api/collections/blobs/records", files={"big": ("blob.bin", content)}, headers=su
    )
    assert resp.status_code == 200, resp.text
    record = resp.json()
    path = app.store.storage.path(record["collectionId"], record["id"], record["big"])
    assert path.read_bytes() == content

"""/api/files and file fields end to end, in process; expectations probed on PocketBase 0.40.6."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import jwt
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from core.app import App
from tests import fixture_data

DOCS = {
    "name": "docs",
    "type": "base",
    "listRule": "",
    "viewRule": "owner = @request.auth.id",
    "createRule": "",
    "updateRule": "",
    "deleteRule": "",
    "fields": [
        {"name": "title", "type": "text"},
        {"name": "owner", "type": "text"},
        {"name": "one", "type": "file", "maxSelect": 1, "maxSize": 100000, "thumbs": ["50x50", "0x40"]},
        {"name": "many", "type": "file", "maxSelect": 3, "maxSize": 100000},
        {"name": "priv", "type": "file", "maxSelect": 1, "protected": True},
        {"name": "img", "type": "file", "maxSelect": 1, "mimeTypes": ["image/png"]},
    ],
}
CSP = "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox"


def png(width: int = 200, height: int = 100) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, "PNG")
    return out.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def storage(app: App, *parts: str) -> Path:
    return app.store.storage.root.joinpath(*parts)


@pytest.fixture
async def doc(client: AsyncTestClient[Any], app: App, tokens: dict[str, str]) -> dict[str, Any]:
    resp = await client.post("/api/collections", json=DOCS, headers={"Authorization": tokens["superuser"]})
    assert resp.status_code == 200, resp.text
    resp = await client.post(
        "/api/collections/docs/records",
        data={"title": "t1", "owner": fixture_data.USER1_ID},
        files=[
            ("one", ("My Photo.PNG", png(), "image/png")),
            ("many", ("a.txt", b"hello", "text/plain")),
            ("many", ("b.txt", b"world", "text/plain")),
            ("priv", ("secret.txt", b"topsecret", "text/plain")),
        ],
    )
    assert resp.status_code == 200, resp.text
    record: dict[str, Any] = resp.json()
    record["base"] = f"/api/files/docs/{record['id']}"
    return record


async def test_upload_names_and_storage(app: App, doc: dict[str, Any]) -> None:
    assert doc["one"].startswith("my_photo_") and doc["one"].endswith(".PNG") and len(doc["one"]) == 23
    assert len(doc["many"]) == 2 and doc["many"][0].startswith("a") and doc["many"][0].endswith(".txt")
    col = app.store.find("docs")
    assert col is not None
    assert storage(app, col.id, doc["id"], doc["many"][0]).read_bytes() == b"hello"


async def test_serve_original(client: AsyncTestClient[Any], doc: dict[str, Any]) -> None:
    resp = await client.get(f"{doc['base']}/{doc['one']}")
    assert resp.status_code == 200
    assert resp.content == png()
    assert resp.headers["content-type"] == "image/png"
    assert resp.headers["content-disposition"] == f'inline; filename="{doc["one"]}"'
    assert resp.headers["content-security-policy"] == CSP
    assert resp.headers["cache-control"] == "max-age=2592000, stale-while-revalidate=86400"
    assert resp.headers["content-length"] == str(len(png()))
    assert "last-modified" in resp.headers


@pytest.mark.parametrize(
    ("thumb", "size", "prefixed"),
    [
        ("100x100", (100, 100), True),  # always allowed
        ("50x50", (50, 50), True),  # one of the field's thumbs
        ("0x40", (80, 40), True),
        ("10x10", (200, 100), False),  # not allowed: the original
        ("bogus", (200, 100), False),
    ],
)
async def test_thumbs(
    client: AsyncTestClient[Any],
    app: App,
    doc: dict[str, Any],
    thumb: str,
    size: tuple[int, int],
    prefixed: bool,
) -> None:
    resp = await client.get(f"{doc['base']}/{doc['one']}?thumb={thumb}")
    assert resp.status_code == 200
    assert image_size(resp.content) == size
    name = f"{thumb}_{doc['one']}" if prefixed else doc["one"]
    assert resp.headers["content-disposition"] == f'inline; filename="{name}"'
    col = app.store.find("docs")
    assert col is not None
    cached = storage(app, col.id, doc["id"], f"thumbs_{doc['one']}", f"{thumb}_{doc['one']}")
    assert cached.is_file() == prefixed


async def test_thumb_of_a_non_image_is_the_original(
    client: AsyncTestClient[Any], doc: dict[str, Any]
) -> None:
    resp = await client.get(f"{doc['base']}/{doc['many'][0]}?thumb=100x100")
    assert resp.status_code == 200 and resp.content == b"hello"


async def test_download_and_attachment_types(client: AsyncTestClient[Any], doc: dict[str, Any]) -> None:
    resp = await client.get(f"{doc['base']}/{doc['one']}?thumb=50x50&download=1")
    assert resp.headers["content-disposition"] == f'attachment; filename="50x50_{doc["one"]}"'
    resp = await client.get(f"{doc['base']}/{doc['many'][0]}")
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert resp.headers["content-disposition"] == f'attachment; filename="{doc["many"][0]}"'


@pytest.mark.parametrize(
    ("range_header", "status", "body", "content_range"),
    [
        ("bytes=1-2", 206, b"el", "bytes 1-2/5"),
        ("bytes=3-", 206, b"lo", "bytes 3-4/5"),
        ("bytes=-2", 206, b"lo", "bytes 3-4/5"),
        ("bytes=1-100", 206, b"ello", "bytes 1-4/5"),
        ("bytes=9-", 416, b"", "bytes */5"),
    ],
)
async def test_ranges(
    client: AsyncTestClient[Any],
    doc: dict[str, Any],
    range_header: str,
    status: int,
    body: bytes,
    content_range: str,
) -> None:
    resp = await client.get(f"{doc['base']}/{doc['many'][0]}", headers={"Range": range_header})
    assert resp.status_code == status
    assert resp.headers["content-range"] == content_range
    if status == 206:
        assert resp.content == body


async def test_not_modified(client: AsyncTestClient[Any], doc: dict[str, Any]) -> None:
    resp = await client.get(f"{doc['base']}/{doc['many'][0]}")
    again = await client.get(
        f"{doc['base']}/{doc['many'][0]}", headers={"If-Modified-Since": resp.headers["last-modified"]}
    )
    assert again.status_code == 304 and again.content == b""


async def test_missing(client: AsyncTestClient[Any], app: App, doc: dict[str, Any]) -> None:
    resp = await client.get(f"{doc['base']}/nope.txt")
    assert resp.status_code == 404 and resp.json()["message"] == "The requested resource wasn't found."
    resp = await client.get(f"/api/files/docs/nope/{doc['one']}")
    assert resp.status_code == 404
    resp = await client.get(f"/api/files/nope/{doc['id']}/{doc['one']}")
    assert resp.status_code == 404 and resp.json()["message"] == "Missing or invalid collection context."
    # a file on disk that the record does not reference is not served
    col = app.store.find("docs")
    assert col is not None
    storage(app, col.id, doc["id"], "stray.txt").write_bytes(b"x")
    assert (await client.get(f"{doc['base']}/stray.txt")).status_code == 404


async def file_token(client: AsyncTestClient[Any], auth: str) -> str:
    resp = await client.post("/api/files/token", headers={"Authorization": auth})
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["token"]
    return token


async def test_file_token(client: AsyncTestClient[Any], tokens: dict[str, str]) -> None:
    resp = await client.post("/api/files/token")
    assert resp.status_code == 401
    assert resp.json()["message"] == "The request requires valid record authorization token."
    claims = jwt.decode(await file_token(client, tokens["user1"]), options={"verify_signature": False})
    assert claims["type"] == "file" and claims["id"] == fixture_data.USER1_ID
    assert claims["collectionId"] == "_pb_users_auth_"
    assert sorted(claims) == ["collectionId", "exp", "id", "type"]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("guest", 404),
        ("user1", 200),
        ("user2", 404),
        ("superuser", 200),
        ("garbage", 404),
        ("user1-auth-token", 404),
    ],
)
async def test_protected_file(
    client: AsyncTestClient[Any], tokens: dict[str, str], doc: dict[str, Any], who: str, status: int
) -> None:
    url = f"{doc['base']}/{doc['priv']}"
    if who in ("user1", "user2", "superuser"):
        url += "?token=" + await file_token(client, tokens[who])
    elif who == "garbage":
        url += "?token=garbage"
    elif who == "user1-auth-token":
        url += "?token=" + tokens["user1"]  # an auth token is not a file token
    # the Authorization header never counts for protected files, only ?token=
    resp = await client.get(url, headers={"Authorization": tokens["user1"]} if who == "guest" else {})
    assert resp.status_code == status
    if status == 200:
        assert resp.content == b"topsecret"


async def test_unprotected_files_ignore_rules_and_tokens(
    client: AsyncTestClient[Any], doc: dict[str, Any]
) -> None:
    resp = await client.get(f"{doc['base']}/{doc['many'][0]}?token=garbage")
    assert resp.status_code == 200


async def test_modifiers_and_removal(client: AsyncTestClient[Any], app: App, doc: dict[str, Any]) -> None:
    col = app.store.find("docs")
    assert col is not None
    url = f"/api/collections/docs/records/{doc['id']}"
    await client.get(f"{doc['base']}/{doc['one']}?thumb=100x100")  # a thumb to clean up as well
    resp = await client.patch(url, files=[("many+", ("c.txt", b"c", "text/plain"))])
    assert resp.status_code == 200
    many = resp.json()["many"]
    assert many[:2] == doc["many"] and many[2].startswith("c") and len(many) == 3
    resp = await client.patch(url, json={"many-": [doc["many"][0]]})
    assert resp.json()["many"] == many[1:]
    assert (await client.get(f"{doc['base']}/{doc['many'][0]}")).status_code == 404
    assert not storage(app, col.id, doc["id"], doc["many"][0]).exists()
    resp = await client.patch(url, json={"one": None})
    assert resp.json()["one"] == ""
    assert not storage(app, col.id, doc["id"], doc["one"]).exists()
    assert not storage(app, col.id, doc["id"], f"thumbs_{doc['one']}").exists()
    assert (await client.delete(url)).status_code == 204
    assert not storage(app, col.id, doc["id"]).exists()


@pytest.mark.parametrize(
    ("files", "error"),
    [
        (
            [("one", ("big.bin", b"x" * 100001, "application/octet-stream"))],
            '"one":{"code":"validation_file_size_limit","message":"Failed to upload big.bin - the maximum '
            'allowed file size is 100000 bytes.","params":{"file":"big.bin","maxSize":100000}}',
        ),
        ([("img", ("x.txt", b"hello", "text/plain"))], '"img":{"code":"validation_invalid_mime_type"'),
        (
            [("many", (f"{i}.txt", b"x", "text/plain")) for i in range(4)],
            '"many":{"code":"validation_too_many_files","message":"The maximum allowed files is 3.",'
            '"params":{"maxSelect":3}}',
        ),
    ],
)
async def test_rejected_uploads_store_nothing(
    client: AsyncTestClient[Any], app: App, doc: dict[str, Any], files: list[Any], error: str
) -> None:
    col = app.store.find("docs")
    assert col is not None
    before = sorted(p.name for p in storage(app, col.id).iterdir())
    resp = await client.post("/api/collections/docs/records", files=files)
    assert resp.status_code == 400
    assert error in resp.text.replace(", ", ",").replace(": ", ":")
    assert sorted(p.name for p in storage(app, col.id).iterdir()) == before


async def test_view_collection_files(
    client: AsyncTestClient[Any], tokens: dict[str, str], doc: dict[str, Any]
) -> None:
    resp = await client.post(
        "/api/collections",
        json={
            "name": "docs_view",
            "type": "view",
            "listRule": "",
            "viewRule": "",
            "viewQuery": "SELECT id, one FROM docs",
        },
        headers={"Authorization": tokens["superuser"]},
    )
    assert resp.status_code == 200, resp.text
    resp = await client.get(f"/api/files/docs_view/{doc['id']}/{doc['one']}")
    assert resp.status_code == 200 and resp.content == png()

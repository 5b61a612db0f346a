"""Differential: bad input on the record routes, sent to the pocketbase 0.40.6 binary and to core.

Status, message and field errors must be equal, and a refused write must leave nothing behind on
either server. Skipped when the binary is missing.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess, start_core, start_pocketbase

pytestmark = pytest.mark.slow

if not ((Path(sys.prefix) / "bin" / "pocketbase").exists() or shutil.which("pocketbase")):
    pytest.skip("the pocketbase binary is not installed", allow_module_level=True)

POSTS = {
    "name": "posts",
    "type": "base",
    "listRule": "",
    "viewRule": "",
    "createRule": "",
    "updateRule": "",
    "fields": [{"name": "title", "type": "text"}, {"name": "doc", "type": "file", "maxSelect": 10}],
}
RID = "post1aaaaaaaaaa"
UID = "user1aaaaaaaaaa"
P = "/api/collections/posts/records"
JSON = {"Content-Type": "application/json"}
HELLO = b'{"title": "hello"}'

# method, path (RID/UID filled in), headers, raw body or multipart fields
CASES: list[tuple[str, str, dict[str, str], Any]] = [
    ("POST", P, JSON, b"\xef\xbb\xbf" + HELLO),
    ("POST", P, {"Content-Type": "text/plain"}, HELLO),
    ("POST", P, {"Content-Type": ""}, HELLO),
    ("POST", P, {"Content-Type": "Application/JSON"}, HELLO),
    ("POST", P, JSON, b"   "),
    ("POST", P, JSON, b"[1]"),
    ("POST", P, JSON, b"{bad"),
    ("POST", P, {"Content-Type": "application/json; charset=utf-8"}, HELLO + b" trailing"),
    ("POST", P, {}, {"@jsonPayload": "[1, 2]"}),
    ("POST", P, {}, {"@jsonPayload": '"text"'}),
    ("POST", P, {}, {"@jsonPayload": "{bad"}),
    ("POST", P + "?expand=nope,doc.x,title", {}, {"title": "expand"}),
    ("PATCH", f"{P}/{RID}", JSON, b'{"id": "otherid12345678"}'),
    ("PATCH", f"{P}/{RID}", JSON, f'{{"id": "{RID}", "title": "same"}}'.encode()),
    ("PATCH", f"/api/collections/users/records/{UID}", JSON, b'{"id": "otheruser123456"}'),
    ("GET", f"{P}/%2F", {}, None),
    ("GET", f"{P}/%2f{RID}", {}, None),
    ("GET", f"{P}/{RID}%2F", {}, None),
    ("PATCH", f"{P}/{RID}%2F", JSON, HELLO),
    ("DELETE", f"{P}/{RID}%2F", {}, None),
    ("GET", "/api/collections/%2F/records", {}, None),
    ("GET", "/api/collections/posts%2F/records", {}, None),
    ("GET", f"/api/collections/posts/records%2F{RID}", {}, None),
    ("PATCH", f"/api/collections/posts/records%2F{RID}", JSON, HELLO),
    ("GET", "/api/collections/posts/records%2F", {}, None),
    ("POST", "/api/collections/nope/records", JSON, HELLO),
    ("PATCH", "/api/collections/nope/records/abc", JSON, HELLO),
    ("GET", "/api/collections/nope/records/abc", {}, None),
]
UPLOAD_NAMES = ["note.c++", "a=b.tx=t", "x#y.t#", "st*r.*", "..hidden", "a."]


def _client(server: ServerProcess) -> httpx.Client:
    c = httpx.Client(base_url=server.url, timeout=60)
    token = c.post(
        "/api/collections/_superusers/auth-with-password",
        json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
    ).json()["token"]
    c.headers["Authorization"] = token
    assert c.post("/api/collections", json=POSTS).status_code == 200
    assert c.post(P, json={"id": RID, "title": "first"}).status_code == 200
    user = {"id": UID, "email": "u1@example.com", "password": "12345678a", "passwordConfirm": "12345678a"}
    assert c.post("/api/collections/users/records", json=user).status_code == 200
    return c


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with (
        start_pocketbase(tmp_path_factory.mktemp("pb")) as pb,
        start_core(tmp_path_factory.mktemp("core"), extra_args=["--no-nats"]) as core,
    ):
        yield _client(pb), _client(core)


def _send(c: httpx.Client, method: str, path: str, headers: dict[str, str], body: Any) -> dict[str, Any]:
    before = c.get(P, params={"perPage": 500}).json()["items"]
    if isinstance(body, dict):
        resp = c.request(method, path, data=body, files={"doc": ("a.txt", b"hi")})
    else:
        resp = c.request(method, path, content=body, headers=headers)
    after = c.get(P, params={"perPage": 500}).json()["items"]
    out: dict[str, Any] = {"status": resp.status_code, "changed": before != after}
    if resp.status_code >= 400:
        out["error"] = resp.json()
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]} {c[1]} {str(c[2:])[:60]}")
def test_same_answer_as_pocketbase(clients: tuple[httpx.Client, httpx.Client], case: tuple[Any, ...]) -> None:
    pb, core = (_send(c, *case) for c in clients)
    assert core == pb
    if pb["status"] >= 400:
        assert not pb["changed"]


def _shape(name: str) -> str:
    """The name with its random parts (10 characters before `_` or the extension) as R."""
    return re.sub(r"[a-z0-9]{10}(?=[_.]|$)", "R", name)


def test_upload_names_as_pocketbase_stores_them(clients: tuple[httpx.Client, httpx.Client]) -> None:
    stored = []
    for c in clients:
        resp = c.post(P, files=[("doc", (n, b"hello world")) for n in UPLOAD_NAMES])
        assert resp.status_code == 200, resp.text
        record = resp.json()
        stored.append(sorted(_shape(n) for n in record["doc"]))
        for name in record["doc"]:
            served = c.get(f"/api/files/posts/{record['id']}/{name.replace('#', '%23')}")
            assert (served.status_code, served.content) == (200, b"hello world"), name
    assert stored[1] == stored[0]

"""The fuzz fixture: a realistic schema on a live `core serve`, seeded over its own API.

`fuzz_posts` has one field of nearly every type and rules that read fields, relations and
`@request.*`, so generated filters and bodies reach the rule compiler and the validators, not
only the parser. `fuzz_users` is an auth collection the posts point at; `fuzz_tags` is the target
of a multi relation (and of back-relations through `fuzz_posts_via_tags`).
"""

from __future__ import annotations

import io
import json
from typing import Any

import httpx

from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess

USERS = "fuzz_users"
TAGS = "fuzz_tags"
POSTS = "fuzz_posts"
COLLECTIONS = (USERS, TAGS, POSTS)
USER_PASSWORD = "fuzzpassword123"

SELECT_VALUES = ("draft", "live", "archived")
LABEL_VALUES = ("red", "green", "blue", "a b", "ü")
ROLE_VALUES = ("member", "editor")


def _users() -> dict[str, Any]:
    return {
        "name": USERS,
        "type": "auth",
        "listRule": "id = @request.auth.id || role = 'editor'",
        "viewRule": "id = @request.auth.id || role = 'editor'",
        "createRule": "",
        "updateRule": "id = @request.auth.id",
        "deleteRule": "id = @request.auth.id && role != 'editor'",
        "fields": [
            {"name": "name", "type": "text", "max": 50},
            {"name": "role", "type": "select", "values": list(ROLE_VALUES), "maxSelect": 1},
            {"name": "avatar", "type": "file", "maxSelect": 1, "maxSize": 65536},
        ],
    }


def _tags() -> dict[str, Any]:
    return {
        "name": TAGS,
        "type": "base",
        "listRule": "",
        "viewRule": "",
        "createRule": "@request.auth.id != ''",
        "updateRule": None,
        "deleteRule": None,
        "fields": [{"name": "name", "type": "text", "required": True, "max": 30}],
        "indexes": [f"CREATE UNIQUE INDEX idx_fuzz_tags_name ON {TAGS} (name)"],
    }


def _posts(users_id: str, tags_id: str) -> dict[str, Any]:
    owner = "author = @request.auth.id"
    return {
        "name": POSTS,
        "type": "base",
        "listRule": f"published = true || {owner} || @request.auth.role = 'editor'",
        "viewRule": f"published = true || {owner}",
        "createRule": "status != 'archived' && (@request.body.views:isset = false || @request.body.views < 1000)",
        "updateRule": f"{owner} || (author = '' && @request.body.author:isset = false)",
        "deleteRule": f"{owner} && status = 'draft' && tags.name ?!= 'keep'",
        "fields": [
            {"name": "title", "type": "text", "required": True, "min": 1, "max": 120},
            {"name": "slug", "type": "text", "pattern": "^[a-z0-9-]+$", "autogeneratePattern": "[a-z]{8}"},
            {"name": "views", "type": "number", "min": 0, "max": 1000000},
            {"name": "rank", "type": "number", "onlyInt": True},
            {"name": "published", "type": "bool"},
            {"name": "status", "type": "select", "values": list(SELECT_VALUES), "maxSelect": 1},
            {"name": "labels", "type": "select", "values": list(LABEL_VALUES), "maxSelect": 3},
            {"name": "due", "type": "date", "min": "2000-01-01 00:00:00.000Z"},
            {"name": "meta", "type": "json", "maxSize": 4096},
            {"name": "contact", "type": "email", "exceptDomains": ["blocked.test"]},
            {"name": "link", "type": "url", "onlyDomains": ["example.com", "pocketbase.io"]},
            {"name": "body", "type": "editor", "maxSize": 4096},
            {"name": "where", "type": "geoPoint"},
            {"name": "secret", "type": "text", "hidden": True},
            {"name": "author", "type": "relation", "collectionId": users_id, "maxSelect": 1},
            {"name": "tags", "type": "relation", "collectionId": tags_id, "maxSelect": 5},
            {
                "name": "cover",
                "type": "file",
                "maxSelect": 1,
                "maxSize": 65536,
                "mimeTypes": ["image/png", "image/jpeg", "text/plain"],
                "thumbs": ["50x50", "0x20"],
            },
            {"name": "gallery", "type": "file", "maxSelect": 3, "maxSize": 65536},
            {"name": "created", "type": "autodate", "onCreate": True},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
    }


class Fixture:
    """What the fuzz tests know about the live server: where it is, who can call it, what exists.

    A plain class, not a dataclass: Hypothesis prints every argument of a failing example, and
    for this one a short repr is all a reader needs.
    """

    def __init__(self, server: ServerProcess, superuser: httpx.Client, http: httpx.Client) -> None:
        self.server = server
        self.superuser = superuser
        self.http = http  # no default auth: each fuzzed request names its own
        self.tokens: dict[str, str | None] = {}  # auth name -> Authorization value (None: guest)
        self.ids: dict[str, list[str]] = {}  # collection -> seeded record ids
        self.collection_ids: dict[str, str] = {}
        self.files: list[tuple[str, str]] = []  # (post id, stored filename): a PNG among them

    def __repr__(self) -> str:
        # Hypothesis prints the fixture with every failing example: keep that readable
        return f"<fuzz fixture {self.server.url}>"

    @property
    def url(self) -> str:
        return self.server.url


def _ok(resp: httpx.Response) -> dict[str, Any]:
    assert resp.is_success, f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    data: dict[str, Any] = resp.json()
    return data


def _login(http: httpx.Client, collection: str, email: str, password: str) -> str:
    resp = http.post(
        f"/api/collections/{collection}/auth-with-password", json={"identity": email, "password": password}
    )
    token: str = _ok(resp)["token"]
    return token


def build(server: ServerProcess) -> Fixture:
    """Create the collections, enable batch, and seed a few linked records with files."""
    su = httpx.Client(base_url=server.url, timeout=30)
    su.headers["Authorization"] = _login(su, "_superusers", DEFAULT_EMAIL, DEFAULT_PASSWORD)
    _ok(su.patch("/api/settings", json={"batch": {"enabled": True, "maxRequests": 10}}))
    users_id = _ok(su.post("/api/collections", json=_users()))["id"]
    tags_id = _ok(su.post("/api/collections", json=_tags()))["id"]
    posts_id = _ok(su.post("/api/collections", json=_posts(users_id, tags_id)))["id"]
    http = httpx.Client(base_url=server.url, timeout=15)
    fx = Fixture(server, su, http)
    fx.collection_ids = {USERS: users_id, TAGS: tags_id, POSTS: posts_id}

    users = []
    for i, role in enumerate(("member", "editor")):
        body = {
            "email": f"user{i}@example.com",
            "password": USER_PASSWORD,
            "passwordConfirm": USER_PASSWORD,
            "name": f"User {i}",
            "role": role,
            "emailVisibility": i == 0,
        }
        users.append(_ok(su.post(f"/api/collections/{USERS}/records", json=body))["id"])
    tags = [_ok(su.post(f"/api/collections/{TAGS}/records", json={"name": n}))["id"] for n in ("keep", "x")]
    posts = []
    for i in range(3):
        data = {
            "title": f"Post {i}",
            "views": i * 10,
            "published": i != 1,
            "status": SELECT_VALUES[i],
            "labels": list(LABEL_VALUES[: i + 1]),
            "meta": {"n": i, "tags": ["a", "b"], "nested": {"k": "v"}},
            "author": users[i % 2],
            "tags": tags[: i + 1],
            "secret": "s3cret",
        }
        cover = ("cover.png", _png(), "image/png") if i == 0 else ("cover.txt", b"hello cover", "text/plain")
        files = [("cover", cover), ("gallery", ("g1.bin", b"\x00\x01", "application/octet-stream"))]
        record = _ok(su.post(f"/api/collections/{POSTS}/records", data=_form(data), files=files))
        posts.append(record["id"])
        fx.files += [(record["id"], record["cover"]), (record["id"], record["gallery"][0])]
    fx.ids = {USERS: users, TAGS: tags, POSTS: posts}
    fx.tokens = {
        "guest": None,
        "member": _login(su, USERS, "user0@example.com", USER_PASSWORD),
        "editor": _login(su, USERS, "user1@example.com", USER_PASSWORD),
        "superuser": su.headers["Authorization"],
        "garbage": "eyJhbGciOiJIUzI1NiJ9.e30.bad",
    }
    return fx


def _png() -> bytes:
    """A small real image, so that thumb requests reach the thumbnailer."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _form(data: dict[str, Any]) -> dict[str, str | list[str]]:
    """Multipart text parts the way the JS SDK sends them (objects as JSON, lists as repeats)."""
    out: dict[str, str | list[str]] = {}
    for key, value in data.items():
        if isinstance(value, list):
            out[key] = [str(v) for v in value]
        elif isinstance(value, dict):
            out[key] = json.dumps(value)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out

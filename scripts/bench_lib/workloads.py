"""The benchmark's schemas, seed data and workloads, shared by both load generators.

The default shape is a collection as the dashboard makes it: autodate `created`/`updated`, N
fields cycling text (200 chars) / number / bool / select / json / date / email / url / editor
(~500 chars of HTML), plus a relation to `users` and a file field left empty. Each width gets two
collections with the same fields: `wideN` open to everyone (rules "") and `wideN_auth` whose rules
ask for a signed-in user (`@request.auth.id != ""`), requested with a users-collection token.
`--shape narrow` keeps the old three-field `posts` (title, views, published; no autodates).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

USER_PASSWORD = "benchpassword123"
BENCH_USERS = 8
# How many record ids the view/update workloads pick from at random (a fixed id would only
# measure a hot cache line).
SAMPLE_IDS = 1000
# Bodies are made up front and picked at random per request: the load generator stays cheap.
BODIES = 64
USERS_COLLECTION_ID = "_pb_users_auth_"
AUTH_PATH = "/api/collections/users/auth-with-password"
SIGNED_IN = '@request.auth.id != ""'
# the cycle of a wide collection's own fields (N of them), in the order
KINDS = ("text", "number", "bool", "select", "json", "date", "email", "url", "editor")
SELECT_VALUES = ["draft", "review", "live", "archived"]
WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
]


def records_path(collection: str) -> str:
    return f"/api/collections/{collection}/records"


@dataclass(frozen=True)
class Workload:
    """One request shape. `{id}` in the path is a random seeded record id of `collection`;
    `body` names a list of bodies in the fixture."""

    name: str
    method: str
    path: str
    collection: str
    body: str | None = None  # a key of Fixture.bodies: "record:<shape>" or "auth"
    user_token: bool = False  # send a regular user's Authorization header
    expect_error: bool = False  # every answer should be a 4xx (the error path)


@dataclass(frozen=True)
class Shape:
    """A collection shape: its fields, the filter the `filter` workload uses, and a body maker."""

    name: str
    fields: list[dict[str, Any]]
    filter: str
    sort: str
    make_body: Any  # (rng, user ids) -> dict

    def collections(self) -> list[tuple[str, str]]:
        """(collection name, rule) pairs this shape is benched on."""
        if self.name == "narrow":
            return [("posts", "")]
        return [(self.name, ""), (f"{self.name}_auth", SIGNED_IN)]

    def schema(self, name: str, rule: str) -> dict[str, Any]:
        rules = {k: rule for k in ("listRule", "viewRule", "createRule", "updateRule")}
        return {"name": name, "type": "base", "fields": self.fields, **rules, "deleteRule": None}

    def workloads(self) -> list[Workload]:
        out: list[Workload] = []
        for col, rule in self.collections():
            suffix = "-auth" if rule else ""
            # the narrow shape's writes came from a signed-in user, as before
            token = bool(rule) or self.name == "narrow"
            path = records_path(col)
            out += [
                Workload(
                    f"list{suffix}",
                    "GET",
                    f"{path}?page=1&perPage=30&sort={self.sort}",
                    col,
                    None,
                    bool(rule),
                ),
                Workload(
                    f"filter{suffix}",
                    "GET",
                    f"{path}?page=1&perPage=30&filter={quote(self.filter)}",
                    col,
                    None,
                    bool(rule),
                ),
                Workload(f"view{suffix}", "GET", f"{path}/{{id}}", col, None, bool(rule)),
                Workload(f"create{suffix}", "POST", path, col, f"record:{self.name}", token),
                Workload(f"update{suffix}", "PATCH", f"{path}/{{id}}", col, f"record:{self.name}", token),
            ]
        if self.name != "narrow":
            # the error path: a record that does not exist (404), a relation to nobody (400)
            col, _ = self.collections()[0]
            path = records_path(col)
            out.append(Workload("view-404", "GET", f"{path}/missing{{id}}", col, None, False, True))
            out.append(Workload("create-400", "POST", path, col, "invalid", False, True))
        out.append(Workload("auth", "POST", AUTH_PATH, "users", "auth"))
        return out


def _text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        words.append(rng.choice(WORDS))
        length += len(words[-1]) + 1
    return " ".join(words)[:size]


def _value(kind: str, rng: random.Random, i: int) -> Any:
    if kind == "text":
        return _text(rng, 200)
    if kind == "number":
        return rng.randint(0, 1000)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "select":
        return rng.choice(SELECT_VALUES)
    if kind == "json":
        return {"tags": [rng.choice(WORDS), rng.choice(WORDS)], "score": rng.randint(0, 100) / 4, "ok": True}
    if kind == "date":
        return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:30:00.000Z"
    if kind == "email":
        return f"person{rng.randint(0, 10**6)}@example.com"
    if kind == "url":
        return f"https://example.com/articles/{rng.randint(0, 10**6)}?ref=bench"
    if kind == "editor":
        paras = [f"<p>{_text(rng, 110)}</p>" for _ in range(4)]
        return "<h2>Heading</h2>" + "".join(paras)
    raise ValueError(kind)


def _field(kind: str, name: str) -> dict[str, Any]:
    f: dict[str, Any] = {"name": name, "type": kind}
    if kind == "select":
        f |= {"values": SELECT_VALUES, "maxSelect": 1}
    return f


def wide_shape(n: int) -> Shape:
    own = [
        (kind, f"{kind}{i // len(KINDS) + 1}") for i, kind in ((i, KINDS[i % len(KINDS)]) for i in range(n))
    ]
    fields = [_field(kind, name) for kind, name in own]
    fields += [
        {"name": "owner", "type": "relation", "collectionId": USERS_COLLECTION_ID, "maxSelect": 1},
        {"name": "attachment", "type": "file", "maxSelect": 1, "maxSize": 5 << 20},
        {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
        {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
    ]
    names = {name for _, name in own}
    # the filter and sort need a number and a bool: from N = 3 on they exist
    flt = "number1>500 && bool1=true" if {"number1", "bool1"} <= names else 'id != ""'

    def make_body(rng: random.Random, users: list[str]) -> dict[str, Any]:
        body = {name: _value(kind, rng, i) for i, (kind, name) in enumerate(own)}
        body["owner"] = rng.choice(users)
        return body

    return Shape(f"wide{n}", fields, flt, "-created", make_body)


def narrow_shape() -> Shape:
    fields = [
        {"name": "title", "type": "text"},
        {"name": "views", "type": "number"},
        {"name": "published", "type": "bool"},
    ]

    def make_body(rng: random.Random, users: list[str]) -> dict[str, Any]:
        return {"title": "bench", "views": rng.randint(0, 1000), "published": rng.random() < 0.5}

    return Shape("narrow", fields, "views>500 && published=true", "-views", make_body)


def workload_names() -> list[str]:
    return [w.name for w in wide_shape(3).workloads()]


# `auth` (password hashing) measures the hash function, not records; the error path is on demand
DEFAULT_WORKLOADS = [n for n in workload_names() if n not in ("auth", "view-404", "create-400")]


@dataclass
class Fixture:
    """What a seeded server gives the workloads."""

    url: str
    user_token: str
    ids: dict[str, list[str]]  # collection -> sample of seeded record ids
    bodies: dict[str, list[str]]  # body kind -> JSON bodies
    user_emails: list[str] = field(default_factory=list)


def user_email(i: int) -> str:
    return f"bench{i}@example.com"


async def su_client(url: str, su_email: str, su_password: str, concurrency: int = 32) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    http = httpx.AsyncClient(base_url=url, timeout=60, limits=limits)
    resp = await http.post(
        "/api/collections/_superusers/auth-with-password",
        json={"identity": su_email, "password": su_password},
    )
    resp.raise_for_status()
    http.headers["Authorization"] = resp.json()["token"]
    return http


async def seed_users(http: httpx.AsyncClient) -> tuple[list[str], list[str], str]:
    """The bench users: (emails, ids, a token of the first)."""
    emails = [user_email(i) for i in range(BENCH_USERS)]
    ids = []
    for email in emails:
        body = {"email": email, "password": USER_PASSWORD, "passwordConfirm": USER_PASSWORD}
        r = await http.post(records_path("users"), json=body)
        r.raise_for_status()
        ids.append(r.json()["id"])
    resp = await http.post(AUTH_PATH, json={"identity": emails[0], "password": USER_PASSWORD})
    resp.raise_for_status()
    return emails, ids, resp.json()["token"]


async def _create_many(
    http: httpx.AsyncClient, path: str, bodies: list[dict[str, Any]], concurrency: int
) -> list[str]:
    ids: list[str] = []
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)

    async def worker() -> None:
        while not queue.empty():
            r = await http.post(path, json=queue.get_nowait())
            r.raise_for_status()
            ids.append(r.json()["id"])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ids


async def seed(
    url: str, su_email: str, su_password: str, records: int, shapes: list[Shape], concurrency: int = 32
) -> Fixture:
    """Create the users, the shapes' collections and `records` records in each, through the REST
    API as a superuser.

    Concurrent single creates rather than /api/batch: batch is off by default in PocketBase and
    every server under test must take the same path. Same random data on every server and run.
    """
    http = await su_client(url, su_email, su_password, concurrency)
    try:
        emails, user_ids, user_token = await seed_users(http)
        fx = Fixture(url=url, user_token=user_token, ids={}, bodies={}, user_emails=emails)
        fx.bodies["auth"] = [json.dumps({"identity": e, "password": USER_PASSWORD}) for e in emails]
        # a relation to a user that does not exist: 400 on every server, from any shape
        invalid = {"owner": "nonexistent0000", "text1": "x"}
        fx.bodies["invalid"] = [json.dumps(invalid)]
        for shape in shapes:
            rng = random.Random(42)
            bodies = [json.dumps(shape.make_body(rng, user_ids)) for _ in range(BODIES)]
            fx.bodies[f"record:{shape.name}"] = bodies
            for name, rule in shape.collections():
                (await http.post("/api/collections", json=shape.schema(name, rule))).raise_for_status()
                started = time.monotonic()
                data = [shape.make_body(rng, user_ids) for _ in range(records)]
                ids = await _create_many(http, records_path(name), data, concurrency)
                elapsed = time.monotonic() - started
                total = (await http.get(records_path(name), params={"perPage": 1})).json()["totalItems"]
                if total != records:
                    raise RuntimeError(f"seeded {total} records in {name} at {url}, expected {records}")
                print(
                    f"  {name}: seeded {records} records in {elapsed:.1f}s ({records / elapsed:.0f}/s)",
                    flush=True,
                )
                fx.ids[name] = random.Random(7).sample(ids, min(SAMPLE_IDS, len(ids)))
    finally:
        await http.aclose()
    return fx

"""The benchmark's schema, seed data and workloads, shared by both load generators."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

COLLECTION = "posts"
USER_PASSWORD = "benchpassword123"
BENCH_USERS = 8
# How many record ids the view/update workloads pick from at random (a fixed id would only
# measure a hot cache line).
SAMPLE_IDS = 1000

POSTS_SCHEMA = {
    "name": COLLECTION,
    "type": "base",
    "fields": [
        {"name": "title", "type": "text"},
        {"name": "views", "type": "number"},
        {"name": "published", "type": "bool"},
    ],
    "listRule": "",
    "viewRule": "",
    "createRule": "",
    "updateRule": "",
    "deleteRule": None,
}

RECORDS_PATH = f"/api/collections/{COLLECTION}/records"
AUTH_PATH = "/api/collections/users/auth-with-password"


@dataclass(frozen=True)
class Workload:
    """One request shape. `{id}` in the path is a random seeded record id; `body` names a body maker."""

    name: str
    method: str
    path: str
    body: str | None = None  # "create" | "update" | "auth"
    user_token: bool = False  # send a regular user's Authorization header


WORKLOADS: list[Workload] = [
    Workload("list", "GET", f"{RECORDS_PATH}?page=1&perPage=30&sort=-views"),
    Workload(
        "filter", "GET", f"{RECORDS_PATH}?page=1&perPage=30&filter={quote('views>500 && published=true')}"
    ),
    Workload("view", "GET", f"{RECORDS_PATH}/{{id}}"),
    # Writes come from a logged-in user, as in an app: token verification is part of the cost.
    Workload("create", "POST", RECORDS_PATH, body="create", user_token=True),
    Workload("update", "PATCH", f"{RECORDS_PATH}/{{id}}", body="update", user_token=True),
    Workload("auth", "POST", AUTH_PATH, body="auth"),
]


@dataclass
class Fixture:
    """What a seeded server gives the workloads."""

    url: str
    user_token: str
    ids: list[str]
    user_emails: list[str] = field(default_factory=list)


def user_email(i: int) -> str:
    return f"bench{i}@example.com"


async def seed(url: str, su_email: str, su_password: str, records: int, concurrency: int = 32) -> Fixture:
    """Create the schema, users and `records` posts through the REST API as a superuser.

    Concurrent single creates rather than /api/batch: batch is off by default in PocketBase and
    every server under test must take the same path.
    """
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        resp = await http.post(
            "/api/collections/_superusers/auth-with-password",
            json={"identity": su_email, "password": su_password},
        )
        resp.raise_for_status()
        http.headers["Authorization"] = resp.json()["token"]
        (await http.post("/api/collections", json=POSTS_SCHEMA)).raise_for_status()

        emails = [user_email(i) for i in range(BENCH_USERS)]
        for email in emails:
            body = {"email": email, "password": USER_PASSWORD, "passwordConfirm": USER_PASSWORD}
            (await http.post("/api/collections/users/records", json=body)).raise_for_status()
        resp = await http.post(AUTH_PATH, json={"identity": emails[0], "password": USER_PASSWORD})
        resp.raise_for_status()
        user_token = resp.json()["token"]

        rng = random.Random(42)  # same data set on every server and every run
        bodies = [
            {"title": f"post {i}", "views": rng.randint(0, 1000), "published": rng.random() < 0.5}
            for i in range(records)
        ]
        ids: list[str] = []
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        for b in bodies:
            queue.put_nowait(b)

        async def worker() -> None:
            while not queue.empty():
                b = queue.get_nowait()
                r = await http.post(RECORDS_PATH, json=b)
                r.raise_for_status()
                ids.append(r.json()["id"])

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started

        total = (await http.get(RECORDS_PATH, params={"perPage": 1})).json()["totalItems"]
        if total != records:
            raise RuntimeError(f"seeded {total} records at {url}, expected {records}")
        print(f"  seeded {records} records in {elapsed:.1f}s ({records / elapsed:.0f}/s)", flush=True)

    sample = random.Random(7).sample(ids, min(SAMPLE_IDS, len(ids)))
    return Fixture(url=url, user_token=user_token, ids=sample, user_emails=emails)

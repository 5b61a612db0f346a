"""The record routes answered ahead of Litestar (core/api/_hot.py) against the Litestar routes.

Every record scenario of test_records.py and test_rules.py also runs with the hot path switched
off, and a list of requests is sent to both forms of the app to compare status, body and the
CORS headers byte for byte. Then what only the hot path does: its fall-backs, logging, the gate.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.api import build_asgi
from core.app import App
from core.lifecycle import lifecycle_of
from core.store.record_query import is_point_read
from core.store.schema import Collection
from tests.api.test_records import LIST, VIEW, WRITE
from tests.api.test_rules import CASES, RuleCase
from tests.api.test_rules import test_rule as run_rule_case
from tests.conftest import fixture_app
from tests.scenario import Scenario, run_scenario
from tests.services.helpers import flush_logs

P = "/api/collections/posts/records"


@pytest.fixture
async def reference(app: App) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=build_asgi(app, hot_routes=False)) as c:
        yield c


@pytest.mark.parametrize("s", LIST + VIEW + WRITE, ids=str)
async def test_record_scenarios_through_litestar(reference: Any, app: App, tokens: Any, s: Scenario) -> None:
    await run_scenario(reference, app, tokens, s)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_rule_cases_through_litestar(reference: Any, tokens: Any, case: RuleCase) -> None:
    await run_rule_case(reference, tokens, case)


# (method, url, auth, body, extra headers): sent to both apps, answers compared byte for byte
SAME = [
    ("GET", P, None, None, {}),
    ("GET", P + "?sort=-views,title&perPage=2&page=2", "user1", None, {}),
    ("GET", P + "?filter=(views>1", None, None, {}),
    ("GET", P + "?expand=author&fields=id,expand.author.name", "superuser", None, {}),
    ("GET", P + "?page=1&page=3&perPage=1", None, None, {}),
    ("GET", P + "/post1aaaaaaaaaa", None, None, {"Origin": "http://app.example"}),
    ("GET", P + "/post2bbbbbbbbbb", None, None, {}),
    ("GET", P + "/post2bbbbbbbbbb", "user1", None, {}),
    ("GET", P + "/post1aaaaaaaaaa?expand=author,likes&fields=*,title:excerpt(3,true)", "user2", None, {}),
    ("GET", P + "/post1aaaaaaaaaa?expand=author&expand=likes", "superuser", None, {}),
    ("GET", P + "/nope", "superuser", None, {}),
    ("GET", P + "/post1aaaaaaaaaa", "not-a-token", None, {}),
    ("GET", "/api/collections/users/records/user1aaaaaaaaaa", "user1", None, {}),
    ("GET", "/api/collections/users/records/user1aaaaaaaaaa", "user2", None, {}),
    ("GET", "/api/collections/nope/records/x", None, None, {}),
    ("GET", P + "/", None, None, {}),
    ("POST", P, "user1", b"{not json", {"Content-Type": "application/json"}),
    ("POST", P, "user1", b"[1, 2]", {"Content-Type": "application/json"}),
    ("POST", P, "user1", {"title": 5, "views": "x"}, {"Origin": "http://app.example"}),
    ("POST", P, None, {"title": "guest"}, {}),
    ("PATCH", P + "/post1aaaaaaaaaa", "user2", {"title": "not mine"}, {}),
    ("PATCH", P + "/post1aaaaaaaaaa", "user1", {"views": "many"}, {}),
    ("PATCH", P + "/nope", "user1", {"title": "x"}, {}),
    ("DELETE", P + "/post3cccccccccc", "user2", None, {}),
    ("DELETE", P + "/nope", "superuser", None, {}),
    ("PUT", P + "/post1aaaaaaaaaa", "superuser", {"title": "x"}, {}),
]

_SKIPPED_HEADERS = {"date", "server"}


@pytest.fixture
def twin(fixture_dir: Path, tmp_path: Path) -> Iterator[App]:
    """A second copy of the fixture data, served by Litestar only, for writes."""
    with fixture_app(fixture_dir, tmp_path / "twin") as core:
        yield core


async def _send(client: Any, tokens: dict[str, str], request: tuple[Any, ...]) -> tuple[int, Any, Any]:
    method, url, auth, body, headers = request
    headers = dict(headers)
    if auth:
        headers["Authorization"] = tokens.get(auth, auth)
    kwargs: dict[str, Any] = {"headers": headers}
    if isinstance(body, bytes):
        kwargs["content"] = body
    elif body is not None:
        kwargs["json"] = body
    resp = await client.request(method, url, **kwargs)
    shown = {k: v for k, v in resp.headers.items() if k not in _SKIPPED_HEADERS}
    content = resp.content
    if method == "PATCH" and resp.status_code == 200:  # both twins stamp their own time
        content = json.dumps({**resp.json(), "updated": ""}).encode()
    return resp.status_code, content, shown


async def test_both_paths_answer_alike(client: Any, app: App, twin: App, tokens: dict[str, str]) -> None:
    async with AsyncTestClient(app=build_asgi(twin, hot_routes=False)) as reference:
        for request in SAME:
            hot, ref = await _send(client, tokens, request), await _send(reference, tokens, request)
            assert hot == ref, f"{request[:2]}: hot {hot} != litestar {ref}"


async def test_writes_answer_alike(client: Any, app: App, twin: App, tokens: dict[str, str]) -> None:
    """Creates differ in ids and times only; updates and deletes leave the same rows behind."""
    body = {"title": "fresh", "views": 7, "published": True, "author": "user1aaaaaaaaaa", "tags": ["a"]}
    async with AsyncTestClient(app=build_asgi(twin, hot_routes=False)) as reference:
        answers = []
        for c in (client, reference):
            resp = await c.post(P + "?expand=author", json=body, headers={"Authorization": tokens["user1"]})
            assert resp.status_code == 200, resp.text
            data = resp.json()
            answers.append({k: v for k, v in data.items() if k not in ("id", "created", "updated")})
            update = await c.patch(
                P + "/post1aaaaaaaaaa", json={"views+": 5}, headers={"Authorization": tokens["user1"]}
            )
            assert update.status_code == 200 and update.json()["views"] == 105
            gone = await c.delete(P + "/post3cccccccccc", headers={"Authorization": tokens["superuser"]})
            assert gone.status_code == 204 and gone.content == b""
        assert answers[0] == answers[1]

    def rows(core: App) -> list[tuple[Any, ...]]:
        return core.store.db.read_sync(
            lambda c: list(c.execute("SELECT title, views FROM posts WHERE id != '' ORDER BY title"))
        )

    assert rows(app) == rows(twin)


async def test_multipart_bodies_take_the_litestar_route(client: Any, tokens: dict[str, str]) -> None:
    resp = await client.post(
        P,
        files={
            "title": (None, "from a form"),
            "@jsonPayload": (None, json.dumps({"views": 3, "author": "user1aaaaaaaaaa"})),
        },
        headers={"Authorization": tokens["user1"]},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["title"] == "from a form" and resp.json()["views"] == 3


async def test_oversized_and_cut_bodies(client: Any, tokens: dict[str, str]) -> None:
    headers = {"Authorization": tokens["user1"], "Content-Type": "application/json"}
    big = b'{"title": "' + b"x" * (64 * 1024 * 1024) + b'"}'
    resp = await client.post(P, content=big, headers=headers)
    assert resp.status_code == 413
    assert resp.json() == {"data": {}, "message": "Request entity too large.", "status": 413}


async def test_hot_requests_are_logged(client: Any, app: App, tokens: dict[str, str]) -> None:
    await client.get(P + "/post2bbbbbbbbbb?fields=id", headers={"Authorization": tokens["user1"]})
    await client.post(
        P, content=b"{", headers={"Authorization": tokens["user2"], "Content-Type": "application/json"}
    )
    flush_logs(app)
    rows = app.services["logs"].db.db.read_sync(
        lambda c: [json.loads(r[0]) for r in c.execute("SELECT data FROM _logs ORDER BY rowid")]
    )
    view, create = rows[-2:]
    assert view["url"] == P + "/post2bbbbbbbbbb?fields=id" and view["status"] == 200
    assert view["auth"] == "users" and view["method"] == "GET"
    assert create["status"] == 400 and create["auth"] == "users" and create["method"] == "POST"
    assert create["error"] == "Something went wrong while processing your request."


async def test_hot_requests_wait_for_a_restore(app: App) -> None:
    """Called straight on this loop (the test client runs the app on a thread of its own)."""
    asgi = build_asgi(app)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": P + "/post1aaaaaaaaaa",
        "raw_path": (P + "/post1aaaaaaaaaa").encode(),
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1),
    }
    gate = lifecycle_of(app).gate
    async with gate.closed(timeout=5):
        pending = asyncio.ensure_future(asgi(scope, receive, send))
        await asyncio.sleep(0.05)
        assert not pending.done() and not sent  # held at the door while the data is swapped
    await pending
    assert sent[0]["status"] == 200 and b"post1aaaaaaaaaa" in sent[1]["body"]


async def test_inline_reads_survive_a_reopen(app: App) -> None:
    posts = app.store.find("posts")
    assert posts is not None and is_point_read(posts)
    before = app.store.db.read_inline(lambda c: c.execute("SELECT COUNT(*) FROM posts").fetchone()[0])
    app.store.db.close()
    app.store.db.open()
    after = app.store.db.read_inline(lambda c: c.execute("SELECT COUNT(*) FROM posts").fetchone()[0])
    assert before == after == 4


@pytest.mark.parametrize(
    ("collection", "expand", "expected"),
    [
        (Collection("a", viewRule=""), "", True),
        (Collection("a", viewRule="author.name = 'x' && views > 1"), "", True),
        (Collection("a", viewRule=""), "author", False),
        (Collection("a", viewRule="@collection.b.x ?= id"), "", False),
        (Collection("a", viewRule="comments_via_post.id != ''"), "", False),
        (Collection("a", type="view", viewRule=""), "", False),
        (Collection("a", type="auth", viewRule="", auth={"manageRule": "@collection.m.u ?= id"}), "", False),
        (Collection("a", type="auth", viewRule="id = @request.auth.id", auth={"manageRule": None}), "", True),
    ],
)
def test_point_reads(collection: Collection, expand: str, expected: bool) -> None:
    """Only reads of bounded cost run on the event loop; the rest go to the reader threads."""
    assert is_point_read(collection, expand) is expected

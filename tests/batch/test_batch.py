"""/api/batch in process, as scenario tables; expectations probed on PocketBase 0.40.6."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.app import App
from tests import fixture_data
from tests.scenario import Scenario, run_scenario

P = "/api/batch"
POSTS = "/api/collections/posts/records"
COMMENTS = "/api/collections/comments/records"
U1 = fixture_data.USER1_ID


def count(table: str, expected: int, where: str = "1") -> Callable[[App, Any], None]:
    def check(app: App, resp: Any) -> None:
        n = app.store.db.read_sync(
            lambda c: c.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]
        )
        assert n == expected, f"{table}: {n} rows where {where}, expected {expected}"

    return check


def req(method: str, url: str, body: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "url": url}
    if body is not None:
        out["body"] = body
    return {**out, **extra}


NEW_COMMENT = {"message": "hi", "post": "post3cccccccccc"}

SCENARIOS = [
    Scenario(
        "empty list",
        "POST",
        P,
        400,
        body={"requests": []},
        contains=[
            '"data":{"requests":{"code":"validation_required","message":"Cannot be blank."}}',
            '"message":"Invalid batch request data."',
        ],
    ),
    Scenario("no requests key", "POST", P, 400, body={}, contains=['"code":"validation_required"']),
    Scenario(
        "not JSON",
        "POST",
        P,
        400,
        body=b"xx",
        contains=['"message":"Failed to read the submitted batch data."'],
    ),
    Scenario(
        "requests not a list",
        "POST",
        P,
        400,
        body={"requests": {"a": 1}},
        contains=['"message":"Failed to read the submitted batch data."'],
    ),
    Scenario(
        "too many",
        "POST",
        P,
        400,
        body={"requests": [req("POST", COMMENTS, NEW_COMMENT)] * 4},
        contains=[
            '"requests":{"code":"validation_length_too_long","message":"The length must be no more than 3.",'
            '"params":{"max":3,"min":0}}'
        ],
    ),
    Scenario(
        "method must be upper case",
        "POST",
        P,
        400,
        body={"requests": [req("post", COMMENTS, NEW_COMMENT), req("", "")]},
        contains=[
            '"0":{"method":{"code":"validation_in_invalid","message":"Must be a valid value."}}',
            '"1":{"method":{"code":"validation_required","message":"Cannot be blank."},'
            '"url":{"code":"validation_required","message":"Cannot be blank."}}',
        ],
    ),
    Scenario(
        "unknown action",
        "POST",
        P,
        400,
        body={"requests": [req("GET", POSTS)]},
        auth="superuser",
        contains=[
            '"0":{"code":"batch_request_failed","message":"Batch request failed.","response":{"data":{},'
            '"message":"Something went wrong while processing your request.","status":400}}',
            '"message":"Batch transaction failed."',
        ],
    ),
    Scenario(
        "unknown collection",
        "POST",
        P,
        400,
        body={"requests": [req("POST", "/api/collections/nope/records", {"a": 1})]},
        contains=['"response":{"data":{},"message":"Missing collection context.","status":404}'],
    ),
    Scenario(
        "create, upsert as update, upsert as create",
        "POST",
        P,
        200,
        auth="superuser",
        body={
            "requests": [
                req("POST", COMMENTS + "?fields=id,message", {**NEW_COMMENT, "id": "newcomment00001"}),
                req("PUT", COMMENTS, {"id": "newcomment00001", "message": "updated"}),
                req("PUT", COMMENTS, {**NEW_COMMENT, "id": "newcomment00002"}),
            ]
        },
        contains=[
            '[{"body":{"id":"newcomment00001","message":"hi"},"status":200},',
            '"id":"newcomment00001","message":"updated"',
            '"id":"newcomment00002","message":"hi"',
        ],
        after=count("comments", 5),
    ),
    Scenario(
        "a failing request rolls everything back",
        "POST",
        P,
        400,
        auth="superuser",
        body={
            "requests": [
                req("DELETE", COMMENTS + "/comm1aaaaaaaaaa"),
                req("POST", COMMENTS, NEW_COMMENT),
                req("PATCH", COMMENTS + "/comm2bbbbbbbbbb", {"message": ""}),
            ]
        },
        contains=[
            '"2":{"code":"batch_request_failed","message":"Batch request failed.","response":{"data":'
            '{"message":{"code":"validation_required","message":"Cannot be blank."}},'
            '"message":"Failed to update record.","status":400}}'
        ],
        after=count("comments", 3),
    ),
    Scenario(
        "missing record",
        "POST",
        P,
        400,
        auth="superuser",
        body={"requests": [req("PATCH", COMMENTS + "/nopenopenopenop", {"message": "x"})]},
        contains=[
            '"0":{"code":"batch_request_failed"',
            '"message":"The requested resource wasn\'t found.","status":404',
        ],
    ),
    Scenario(
        "delete answers 204 and null; expand and fields apply",
        "POST",
        P,
        200,
        auth="superuser",
        body={
            "requests": [
                req("DELETE", COMMENTS + "/comm1aaaaaaaaaa"),
                req(
                    "PATCH",
                    COMMENTS + "/comm2bbbbbbbbbb?expand=user&fields=id,expand.user.name",
                    {"message": "x"},
                ),
            ]
        },
        contains=[
            '[{"body":null,"status":204},',
            '{"body":{"id":"comm2bbbbbbbbbb","expand":{"user":{"name":"User One"}}},"status":200}]',
        ],
        after=count("comments", 2),
    ),
    Scenario(
        "rules apply with the batch request's auth: guest",
        "POST",
        P,
        400,
        body={"requests": [req("POST", COMMENTS, NEW_COMMENT)]},
        contains=['"response":{"data":{},"message":"Failed to create record.","status":400}'],
        after=count("comments", 3),
    ),
    Scenario(
        "rules apply with the batch request's auth: user",
        "POST",
        P,
        200,
        auth="user1",
        body={
            "requests": [
                req("POST", POSTS, {"title": "mine", "author": U1}),
                req("PATCH", POSTS + "/post1aaaaaaaaaa", {"views+": 1}),
            ]
        },
        contains=['"title":"mine"', '"views":101'],
        after=count("posts", 5),
    ),
    Scenario(
        "another user's record is not found",
        "POST",
        P,
        400,
        auth="user1",
        body={"requests": [req("PATCH", POSTS + "/post3cccccccccc", {"title": "x"})]},
        contains=['"status":404'],
    ),
    Scenario(
        "superusers-only rule",
        "POST",
        P,
        400,
        auth="user1",
        body={"requests": [req("DELETE", POSTS + "/post2bbbbbbbbbb")]},
        contains=['"response":{"data":{},"message":"Only superusers can perform this action.","status":403}'],
    ),
    Scenario(
        "a sub-request's Authorization header is ignored",
        "POST",
        P,
        400,
        body={"requests": [req("POST", COMMENTS, NEW_COMMENT, headers={"Authorization": "{user1}"})]},
        contains=['"message":"Failed to create record.","status":400'],
    ),
]


@pytest.fixture
async def enabled(app: App) -> None:
    await app.store.update_settings({"batch": {"enabled": True, "maxRequests": 3}})


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_batch(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str], enabled: None, scenario: Scenario
) -> None:
    if isinstance(scenario.body, dict):
        scenario.body = json.loads(json.dumps(scenario.body).replace("{user1}", tokens["user1"]))
    await run_scenario(client, app, tokens, scenario)


async def test_disabled_by_default(client: AsyncTestClient[Any]) -> None:
    resp = await client.post(P, json={"requests": [req("POST", COMMENTS, NEW_COMMENT)]})
    assert resp.status_code == 403
    assert resp.json() == {"data": {}, "message": "Batch requests are not allowed.", "status": 403}


async def test_body_size_limit(client: AsyncTestClient[Any], app: App, tokens: dict[str, str]) -> None:
    await app.store.update_settings({"batch": {"enabled": True, "maxBodySize": 100}})
    body = {"requests": [req("POST", COMMENTS, {**NEW_COMMENT, "message": "x" * 200})]}
    resp = await client.post(P, json=body, headers={"Authorization": tokens["superuser"]})
    assert resp.status_code == 413
    assert resp.json()["message"] == "Request entity too large."


async def test_multipart_files(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str], enabled: None
) -> None:
    su = {"Authorization": tokens["superuser"]}
    resp = await client.post(
        "/api/collections",
        headers=su,
        json={
            "name": "bt",
            "type": "base",
            "fields": [{"name": "title", "type": "text"}, {"name": "f", "type": "file", "maxSelect": 2}],
        },
    )
    assert resp.status_code == 200, resp.text
    payload = {
        "requests": [
            req("POST", "/api/collections/bt/records", {"title": "one"}),
            req("POST", "/api/collections/bt/records", {"title": "two"}),
        ]
    }
    resp = await client.post(
        P,
        headers=su,
        data={"@jsonPayload": json.dumps(payload)},
        files=[
            ("requests.0.f", ("a.txt", b"aaa", "text/plain")),
            ("requests[1].f", ("b.txt", b"bbb", "text/plain")),
            ("requests.1.f", ("c.txt", b"ccc", "text/plain")),
        ],
    )
    assert resp.status_code == 200, resp.text
    first, second = (r["body"] for r in resp.json())
    assert len(first["f"]) == 1 and len(second["f"]) == 2
    # PocketBase names a batch upload twice: `a` + 10 random, `_` + 10 random, `_` + 10 random
    assert first["f"][0].startswith("a") and len(first["f"][0]) == len("a") + 10 + 11 + 11 + len(".txt")
    col = app.store.find("bt")
    assert col is not None
    assert app.store.storage.path(col.id, first["id"], first["f"][0]).read_bytes() == b"aaa"


async def test_large_batch_upload_is_saved_whole(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str], enabled: None
) -> None:
    """Past 1 MB the parser spools an upload to disk; the sub-request copies it from there."""
    su = {"Authorization": tokens["superuser"]}
    bt = {"name": "bt", "type": "base", "fields": [{"name": "f", "type": "file", "maxSize": 10 << 20}]}
    assert (await client.post("/api/collections", headers=su, json=bt)).status_code == 200
    content = bytes(range(256)) * (12 << 10)  # 3 MB
    payload = {"requests": [req("POST", "/api/collections/bt/records", {})]}
    resp = await client.post(
        P,
        headers=su,
        data={"@jsonPayload": json.dumps(payload)},
        files=[("requests.0.f", ("big.bin", content, "application/octet-stream"))],
    )
    assert resp.status_code == 200, resp.text
    record = resp.json()[0]["body"]
    assert app.store.storage.path(record["collectionId"], record["id"], record["f"]).read_bytes() == content


async def test_failed_multipart_batch_leaves_no_files(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str], enabled: None
) -> None:
    su = {"Authorization": tokens["superuser"]}
    await client.post(
        "/api/collections",
        headers=su,
        json={
            "name": "bt",
            "type": "base",
            "fields": [{"name": "title", "type": "text", "required": True}, {"name": "f", "type": "file"}],
        },
    )
    payload = {
        "requests": [
            req("POST", "/api/collections/bt/records", {"title": "one"}),
            req("POST", "/api/collections/bt/records", {}),
        ]
    }
    resp = await client.post(
        P,
        headers=su,
        data={"@jsonPayload": json.dumps(payload)},
        files=[("requests.0.f", ("a.txt", b"aaa", "text/plain"))],
    )
    assert resp.status_code == 400
    assert '"1":{"code":"batch_request_failed"' in resp.text.replace(" ", "")
    col = app.store.find("bt")
    assert col is not None
    root = app.store.storage.root / col.id
    assert not root.exists() or not any(root.rglob("*.txt"))


async def test_sub_request_headers_and_context_feed_rules(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str], enabled: None
) -> None:
    resp = await client.post(
        "/api/collections",
        headers={"Authorization": tokens["superuser"]},
        json={
            "name": "gated",
            "type": "base",
            "createRule": "@request.headers.x_token = 'abc' && @request.context = 'batch'",
            "fields": [{"name": "title", "type": "text"}],
        },
    )
    assert resp.status_code == 200, resp.text
    url = "/api/collections/gated/records"
    ok = await client.post(
        P, json={"requests": [req("POST", url, {"title": "a"}, headers={"X-Token": "abc"})]}
    )
    assert ok.status_code == 200, ok.text
    bad = await client.post(P, json={"requests": [req("POST", url, {"title": "a"})]})
    assert bad.status_code == 400
    direct = await client.post(url, json={"title": "a"}, headers={"X-Token": "abc"})
    assert direct.status_code == 400  # not in a batch: @request.context is "default"


async def test_batch_events_reach_realtime(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str], enabled: None
) -> None:
    from core.realtime import Broker
    from tests.realtime.conftest import barrier
    from tests.realtime.sse import Recorder

    # the test client runs the app on its own loop: this broker lives on the test's loop
    broker = Broker(app.store)
    await broker.start()
    rt = broker.connect("127.0.0.1")
    broker.subscribe(rt, ["comments/*"], None)
    recorder = Recorder(rt)
    body = {"requests": [req("POST", COMMENTS, {**NEW_COMMENT, "message": f"m{i}"}) for i in range(3)]}
    resp = await client.post(P, json=body, headers={"Authorization": tokens["superuser"]})
    assert resp.status_code == 200
    await barrier(app, recorder)
    messages = [f.json["record"]["message"] for f in recorder.events("comments/*")]
    assert messages[:3] == ["m0", "m1", "m2"]  # one transaction, events in write order
    await recorder.close()
    await broker.stop()

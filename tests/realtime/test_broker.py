"""Rule-checked delivery, in process: a broker on the fixture data, clients read like SSE streams.

Each case subscribes one client, makes one write through the store (as a superuser, so the write
itself always succeeds) and states which events the client gets and what their JSON holds.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest

from core.app import App
from core.realtime import Broker
from core.store.request import Auth
from tests import fixture_data
from tests.realtime.conftest import Subscribe, auth_of, barrier, record_events, superuser_request

U1, U2 = fixture_data.USER1_ID, fixture_data.USER2_ID
Write = Callable[[App], Awaitable[Any]]


async def create(app: App, collection: str, body: dict[str, Any]) -> Any:
    col = app.store.find(collection)
    assert col is not None
    return await app.store.create_record(col, body, superuser_request(app))


async def update(app: App, collection: str, record_id: str, body: dict[str, Any]) -> Any:
    col = app.store.find(collection)
    assert col is not None
    return await app.store.update_record(col, record_id, body, superuser_request(app))


async def delete(app: App, collection: str, record_id: str) -> Any:
    col = app.store.find(collection)
    assert col is not None
    return await app.store.delete_record(col, record_id, superuser_request(app))


WRITES: dict[str, Write] = {
    "create published": lambda app: create(
        app,
        "posts",
        {"id": "newpub000000001", "title": "New", "published": True, "author": U2, "secret": "s-new"},
    ),
    "create draft of user1": lambda app: create(
        app, "posts", {"id": "newdraft0000001", "title": "Mine", "published": False, "author": U1}
    ),
    "update post1": lambda app: update(app, "posts", "post1aaaaaaaaaa", {"title": "Hello again"}),
    "update post3": lambda app: update(app, "posts", "post3cccccccccc", {"title": "Popular again"}),
    "delete post2": lambda app: delete(app, "posts", "post2bbbbbbbbbb"),
    "update user1": lambda app: update(app, "users", U1, {"name": "Renamed"}),
    "update user2": lambda app: update(app, "users", U2, {"name": "Renamed"}),
}


def options(**opts: Any) -> str:
    return "?options=" + quote(json.dumps(opts))


@dataclass
class Case:
    name: str
    who: str
    topic: str
    write: str
    # (event name, action) of every event the client must get, in order; [] = nothing
    events: list[tuple[str, str]]
    contains: list[str] = field(default_factory=list)
    not_contains: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.name


FIELDS = options(query={"fields": "id,title"})
EXPAND = options(query={"expand": "author"})
FILTER = options(query={"filter": "views > 500"})

CASES = [
    Case(
        "guest sees a published create",
        "guest",
        "posts/*",
        "create published",
        [("posts/*", "create")],
        ['"id":"newpub000000001"', '"collectionName":"posts"', '"title":"New"'],
        ['"secret"'],
    ),
    Case("guest misses a draft", "guest", "posts/*", "create draft of user1", []),
    Case("author sees own draft", "user1", "posts/*", "create draft of user1", [("posts/*", "create")]),
    Case("other user misses a draft", "user2", "posts/*", "create draft of user1", []),
    Case(
        "superuser sees hidden fields",
        "superuser",
        "posts/*",
        "create published",
        [("posts/*", "create")],
        ['"secret":"s-new"'],
    ),
    Case(
        "record topic uses the viewRule",
        "guest",
        "posts/post1aaaaaaaaaa",
        "update post1",
        [("posts/post1aaaaaaaaaa", "update")],
        ['"title":"Hello again"', '"views":100', '"tags":["a","b"]'],
    ),
    Case("record topic of another record", "guest", "posts/post3cccccccccc", "update post1", []),
    Case(
        "collection id topic",
        "guest",
        "pbc_posts000001/*",
        "update post1",
        [("pbc_posts000001/*", "update")],
    ),
    Case("legacy bare collection topic", "guest", "posts", "update post1", [("posts", "update")]),
    Case("names are case-sensitive", "guest", "Posts/*", "update post1", []),
    Case("delete of a draft is checked on its before-image", "guest", "posts/*", "delete post2", []),
    Case(
        "author sees the delete of own draft",
        "user1",
        "posts/*",
        "delete post2",
        [("posts/*", "delete")],
        ['"title":"Draft by one"', '"id":"post2bbbbbbbbbb"'],
    ),
    Case(
        "fields option",
        "guest",
        "posts/*" + FIELDS,
        "update post1",
        [("posts/*" + FIELDS, "update")],
        ['{"record":{"id":"post1aaaaaaaaaa","title":"Hello again"},"action":"update"}'],
    ),
    Case(
        "expand option follows the related viewRule",
        "guest",
        "posts/*" + EXPAND,
        "update post1",
        [("posts/*" + EXPAND, "update")],
        ['"expand":{}'],
        ['"name":"User One"'],
    ),
    Case(
        "expand option for the related owner",
        "user1",
        "posts/*" + EXPAND,
        "update post1",
        [("posts/*" + EXPAND, "update")],
        ['"expand":{"author":{', '"name":"User One"'],
    ),
    Case("filter option excludes", "guest", "posts/*" + FILTER, "update post1", []),
    Case(
        "filter option includes",
        "guest",
        "posts/*" + FILTER,
        "update post3",
        [("posts/*" + FILTER, "update")],
    ),
    Case(
        "filter option may not use @request for non-superusers",
        "guest",
        "posts/*" + options(query={"filter": "@request.auth.id = ''"}),
        "update post1",
        [],
    ),
    Case(
        "owner sees own email",
        "user1",
        "users/*",
        "update user1",
        [("users/*", "update")],
        ['"email":"user1@example.com"', '"name":"Renamed"'],
        ['"password"', '"tokenKey"'],
    ),
    Case("users listRule hides others", "user1", "users/*", "update user2", []),
    Case("null rule: superusers only", "user1", "_superusers/*", "update user1", []),
    Case(
        "superuser sees any user with email",
        "superuser",
        "users/*",
        "update user1",
        [("users/*", "update")],
        ['"email":"user1@example.com"'],
        ['"password"', '"tokenKey"'],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_delivery(app: App, subscribe: Subscribe, case: Case) -> None:
    recorder = await subscribe(case.who, case.topic)
    await WRITES[case.write](app)
    await barrier(app, recorder)
    got = record_events(recorder)
    assert [(e["event"], e["action"]) for e in got] == case.events, got
    text = " ".join(f.data for f in recorder.events(case.topic.split("?")[0]))
    for fragment in case.contains:
        assert fragment in text, f"{case.name}: missing {fragment!r} in {text}"
    for fragment in case.not_contains:
        assert fragment not in text, f"{case.name}: unexpected {fragment!r} in {text}"


async def test_every_matching_subscription_gets_its_own_frame(app: App, subscribe: Subscribe) -> None:
    recorder = await subscribe("guest", "posts/*", "posts/post1aaaaaaaaaa", "posts", "pbc_posts000001/*")
    await WRITES["update post1"](app)
    await barrier(app, recorder)
    assert sorted(e["event"] for e in record_events(recorder)) == sorted(
        ["posts/*", "posts/post1aaaaaaaaaa", "posts", "pbc_posts000001/*"]
    )
    assert {f.id for f in recorder.frames} == {recorder.client.id}


async def test_frame_format(app: App, subscribe: Subscribe) -> None:
    recorder = await subscribe("guest", "posts/post1aaaaaaaaaa")
    await WRITES["update post1"](app)
    await barrier(app, recorder)
    first = recorder.frames[0]
    assert (first.event, first.json) == ("PB_CONNECT", {"clientId": recorder.client.id})
    frame = recorder.events("posts/")[0]
    assert list(frame.json) == ["record", "action"]  # PocketBase's key order


async def test_cascade_delete_reports_every_record(app: App, subscribe: Subscribe) -> None:
    recorder = await subscribe("guest", "posts/*")
    await delete(app, "posts", "post1aaaaaaaaaa")  # comments of post1 go with it (cascadeDelete)
    await barrier(app, recorder)
    deleted = [(e["event"], e["record"]["id"]) for e in record_events(recorder) if e["action"] == "delete"]
    assert sorted(deleted) == [
        ("comments/*", "comm1aaaaaaaaaa"),
        ("comments/*", "comm2bbbbbbbbbb"),
        ("posts/*", "post1aaaaaaaaaa"),
    ]


async def test_headers_and_query_options_feed_the_rule(app: App, subscribe: Subscribe) -> None:
    from core.store.store import Store

    store: Store = app.store
    await store.create_collection(
        {
            "name": "gated",
            "type": "base",
            "listRule": "@request.headers.x_token = 'abc' && @request.query.page = '2'",
            "fields": [{"name": "title", "type": "text"}],
        }
    )
    good = "gated/*" + options(query={"page": 2}, headers={"X-Token": "abc"})
    bad = "gated/*" + options(query={"page": "2"}, headers={"X-Token": "nope"})
    recorder = await subscribe("guest", good, bad, "gated/*")
    await create(app, "gated", {"title": "x"})
    await barrier(app, recorder)
    assert [e["event"] for e in record_events(recorder)] == [good]


async def test_rules_compare_like_the_real_table(app: App, subscribe: Subscribe) -> None:
    # a number column compared with a string from the query: SQLite's column affinity converts
    await app.store.create_collection(
        {
            "name": "scores",
            "type": "base",
            "listRule": "points > @request.query.min",
            "fields": [{"name": "points", "type": "number"}],
        }
    )
    topic = "scores/*" + options(query={"min": "5"})
    recorder = await subscribe("guest", topic)
    await create(app, "scores", {"points": 10})
    await create(app, "scores", {"points": 1})
    await barrier(app, recorder)
    assert [e["record"]["points"] for e in record_events(recorder)] == [10]


async def test_new_password_signs_the_client_out(app: App, subscribe: Subscribe) -> None:
    recorder = await subscribe("user1", "posts/*")
    await update(app, "users", U1, {"password": "a-new-password", "passwordConfirm": "a-new-password"})
    await barrier(app, recorder)
    assert recorder.client.auth is None
    await WRITES["create draft of user1"](app)  # no longer visible: the client is a guest now
    await barrier(app, recorder)
    assert [e for e in record_events(recorder) if e["event"] == "posts/*"] == []


async def test_auth_record_updates_follow_the_client(app: App, subscribe: Subscribe) -> None:
    recorder = await subscribe("user1", "users/*")
    await WRITES["update user1"](app)
    await barrier(app, recorder)
    auth = recorder.client.auth
    assert isinstance(auth, Auth) and auth.record["name"] == "Renamed"


async def test_deleted_auth_record_signs_the_client_out(
    app: App, broker: Broker, subscribe: Subscribe
) -> None:
    user3 = "user3cccccccccc"
    password = "a-password-123"
    await create(
        app,
        "users",
        {"id": user3, "email": "u3@example.com", "password": password, "passwordConfirm": password},
    )
    recorder = await subscribe("guest", "posts/*")
    users = app.store.find("users")
    raw = await app.store.load_raw(users, user3) if users else None
    assert users is not None and raw is not None
    broker.subscribe(recorder.client, ["posts/*", "comments/*"], Auth(record=raw, collection=users))
    other = await subscribe("user2", "posts/*")
    await delete(app, "users", user3)
    await barrier(app, recorder, other)
    assert recorder.client.auth is None
    assert other.client.auth is not None


async def test_send_to_client(app: App, broker: Broker, subscribe: Subscribe) -> None:
    recorder = await subscribe("guest", "@oauth2")
    assert await broker.send_to_client(recorder.client.id, "@oauth2", {"state": "s", "code": "c"})
    await recorder.wait_for(lambda frames: any(f.event == "@oauth2" for f in frames))
    frame = recorder.events("@oauth2")[0]
    assert frame.json == {"state": "s", "code": "c"}
    assert not await broker.send_to_client(recorder.client.id, "@other", "x")  # not subscribed
    assert not await broker.send_to_client("nobody", "@oauth2", "x")


async def test_disconnected_client_is_forgotten(app: App, broker: Broker, subscribe: Subscribe) -> None:
    recorder = await subscribe("guest", "posts/*")
    client_id = recorder.client.id
    broker.disconnect(client_id)
    assert broker.get(client_id) is None
    await recorder.wait_for(lambda frames: True)
    assert broker._index.get("posts/*") is None


async def test_idle_limit_closes_the_stream(app: App, broker: Broker) -> None:
    from core.realtime import Limits
    from tests.realtime.sse import Recorder

    broker.limits = Limits(idle=0.2, total=10)
    recorder = Recorder(broker.connect("127.0.0.1"))
    await recorder.wait_for(lambda frames: recorder.closed, timeout=2)
    assert [f.event for f in recorder.frames] == ["PB_CONNECT"]


async def test_total_limit_closes_a_busy_stream(app: App, broker: Broker) -> None:
    from core.realtime import Limits
    from tests.realtime.sse import Recorder

    broker.limits = Limits(idle=10, total=0.3)
    client = broker.connect("127.0.0.1")
    broker.subscribe(client, ["comments/*"], None)
    recorder = Recorder(client)
    for _ in range(3):
        await barrier(app, recorder)
    await recorder.wait_for(lambda frames: recorder.closed, timeout=2)


def test_auth_of_helper(app: App) -> None:
    assert auth_of(app, "guest") is None
    su = auth_of(app, "superuser")
    assert su is not None and su.is_superuser


async def test_schema_changes_reach_the_rule_check(app: App, subscribe: Subscribe) -> None:
    await app.store.create_collection(
        {"name": "evolving", "type": "base", "listRule": "a = 'x'", "fields": [{"name": "a", "type": "text"}]}
    )
    recorder = await subscribe("guest", "evolving/*")
    await create(app, "evolving", {"a": "x"})
    await barrier(app, recorder)
    evolving = app.store.find("evolving")
    assert evolving is not None
    fields = [f.to_json() for f in evolving.fields] + [{"name": "b", "type": "number"}]
    await app.store.update_collection("evolving", {"listRule": "b > 5", "fields": fields})
    await create(app, "evolving", {"a": "y", "b": 9})
    await create(app, "evolving", {"a": "z", "b": 1})
    await barrier(app, recorder)
    assert [e["record"]["a"] for e in record_events(recorder)] == ["x", "y"]

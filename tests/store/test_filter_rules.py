"""API rules with request data: @request.auth/body/query/headers/method, :changed, :isset...

Rules are not client filters: hidden fields and related records are visible to them. Each case
is either a viewRule (GET, no body) or an updateRule (PATCH with `body`); `allowed` is whether
PocketBase 0.40.6 lets the request through (200) or not (404). Bodies are given already
normalized (multi-valued fields as lists), which is what PocketBase evaluates rules against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from core.store.filter import FilterError, compile_filter
from tests.store.test_filter_data import FilterDB, fdb, rid

__all__ = ["fdb"]

U1, U2 = rid("u1"), rid("u2")
C1, C2 = rid("c1"), rid("c2")
P1_META = {"tag": "x", "n": 5, "arr": [1, 2]}

DEFAULT_RULES = {
    "posts": {"viewRule": "", "updateRule": ""},
    "users": {"viewRule": "id = @request.auth.id", "updateRule": "id = @request.auth.id"},
}


@dataclass
class RuleCase:
    rule: str
    who: str
    allowed: bool
    body: dict[str, Any] | None = None
    record: str = rid("p1")
    collection: str = "posts"

    @property
    def id(self) -> str:
        return f"{self.who}:{self.rule}:{self.body}"


VIEW = [
    RuleCase("@request.auth.id != ''", "u1", True),
    RuleCase("@request.auth.id != ''", "guest", False),
    RuleCase("@request.auth.id = ''", "guest", True),
    RuleCase("author = @request.auth.id", "u1", True),
    RuleCase("author = @request.auth.id", "u2", False),
    RuleCase("author.id = @request.auth.id", "u1", True),
    RuleCase("@request.auth.role = 'admin'", "u1", True),
    RuleCase("@request.auth.role = 'admin'", "u2", False),
    RuleCase("@request.auth.secret = 's2'", "u2", True),
    RuleCase("@request.auth.age > 25", "u1", True),
    RuleCase("@request.auth.nope = null", "u1", True),
    RuleCase("@request.auth.friends.name ?= 'User One'", "u2", True),
    RuleCase("@request.auth.friends.name ?= 'User One'", "u1", False),
    RuleCase("@request.auth.friends.name ?= 'User One'", "guest", False),
    RuleCase("@request.auth.friends.name = 'User One'", "u2", True),
    RuleCase("@request.auth.friends.name = 'User One'", "u3", False),
    RuleCase("@request.auth.friends:length = 2", "u3", True),
    RuleCase("@request.auth.friends:each ?= 'u10000000000000'", "u3", True),
    RuleCase("@request.auth.friends ?= 'u10000000000000'", "u2", False),
    RuleCase("@request.auth.verified = true && @request.auth.emailVisibility = true", "u1", True),
    RuleCase("@request.auth.verified = true", "u2", False),
    RuleCase("@request.auth.email = 'u2@x.com'", "u2", True),
    RuleCase(
        "@request.auth.collectionName = 'users' && @request.auth.collectionId = '_pb_users_auth_'", "u1", True
    ),
    RuleCase("@request.context = 'default' && @request.method = 'GET'", "guest", True),
    RuleCase("@request.headers.x_token = 'abc'", "guest", True),
    RuleCase("@request.headers.x_token:isset = true && @request.headers.nope:isset = false", "guest", True),
    RuleCase("@request.query.a = 'b'", "guest", False),
    RuleCase("@request.body.title:isset = false", "u1", True),
    RuleCase(
        "@collection.comments.author ?= @request.auth.id && @collection.comments.post ?= id", "u2", True
    ),
    RuleCase(
        "@collection.comments.author ?= @request.auth.id && @collection.comments.post ?= id", "u1", False
    ),
    RuleCase("@collection.profiles.user ?= @request.auth.id", "u2", True),
    RuleCase("@collection.profiles.user ?= @request.auth.id", "u3", False),
    # rules see hidden fields, related records and emails regardless of listRules/visibility
    RuleCase("author.name = 'User One'", "u2", True),
    RuleCase("author.secret = 's1'", "guest", True),
    RuleCase("note = 'n1'", "guest", True),
    RuleCase("author.email = 'u1@x.com'", "guest", True),
    RuleCase("editor.name = 'Ed'", "guest", True),
    RuleCase("comments_via_post.author = @request.auth.id", "u2", False),
    RuleCase("comments_via_post.author ?= @request.auth.id", "u2", True),
    RuleCase("comments_via_post.author.name ?= 'User Two'", "guest", True),
    RuleCase("id = @request.auth.id", "u1", True, record=U1, collection="users"),
    RuleCase("id = @request.auth.id", "u2", False, record=U1, collection="users"),
    RuleCase("friends ~ @request.auth.id", "u1", True, record=U2, collection="users"),
    RuleCase("friends:each ?= @request.auth.id", "u1", True, record=U2, collection="users"),
    RuleCase("posts_via_author.title ?= 'Second post'", "guest", True, record=U2, collection="users"),
]

UPDATE = [
    RuleCase("@request.method = 'PATCH'", "u1", True, {"views": 10}),
    RuleCase("@request.body.title:changed = false", "u1", True, {"views": 10}),
    RuleCase("@request.body.title:changed = false", "u1", True, {"title": "Hello World"}),
    RuleCase("@request.body.title:changed = false", "u1", False, {"title": "Other"}),
    RuleCase("@request.body.title:changed = true", "u1", True, {"title": "Other"}),
    RuleCase("@request.body.title:changed = true", "u1", False, {"views": 10}),
    RuleCase("@request.body.title:changed != true", "u1", True, {"title": "Hello World"}),
    RuleCase("@request.body.tags:changed = false", "u1", False, {"tags": ["b", "a"]}),
    RuleCase("@request.body.tags:changed = false", "u1", True, {"tags": ["a", "b"]}),
    RuleCase("@request.body.views:changed = false", "u1", True, {"views": 10}),
    RuleCase("@request.body.views:changed = false", "u1", False, {"views": 11}),
    RuleCase("@request.body.author:changed = false", "u1", True, {"author": U1}),
    RuleCase("@request.body.author:changed = false", "u1", False, {"author": U2}),
    RuleCase("@request.body.cats:changed = false", "u1", True, {"cats": [C1, C2]}),
    RuleCase("@request.body.meta:changed = false", "u1", True, {"meta": P1_META}),
    RuleCase("@request.body.meta:changed = false", "u1", False, {"meta": {"tag": "x"}}),
    RuleCase("@request.body.published:changed = false", "u1", True, {"published": True}),
    RuleCase("@request.body.published:changed = false", "u1", False, {"published": False}),
    RuleCase("@request.body.note:changed = false", "u1", True, {"note": "n1"}),
    RuleCase(
        "@request.body.note:changed = false && @request.body.title:changed = false",
        "u1",
        True,
        {"note": "n1"},
    ),
    RuleCase("@request.body.tags:each ?= 'a'", "u1", True, {"tags": ["a", "b"]}),
    RuleCase("@request.body.tags:each = 'a'", "u1", False, {"tags": ["a", "b"]}),
    RuleCase("@request.body.tags:each = 'a'", "u1", True, {"tags": ["a"]}),
    RuleCase("@request.body.tags:each != 'c'", "u1", True, {"tags": ["a", "b"]}),
    RuleCase("@request.body.tags:length = 2", "u1", True, {"tags": ["a", "b"]}),
    RuleCase("@request.body.tags:length = 2", "u1", False, {"views": 10}),
    RuleCase("@request.body.status:each = 'live'", "u1", True, {"status": "live"}),
    RuleCase("@request.body.title:lower = 'hello world'", "u1", True, {"title": "Hello World"}),
    RuleCase("@request.body.title:lower = ''", "u1", True, {"views": 10}),
    RuleCase("@request.body.author.name = 'User One'", "u1", True, {"author": U1}),
    RuleCase("@request.body.author.name = 'User One'", "u1", False, {"views": 10}),
    RuleCase("@request.body.author.secret = 's1'", "u1", True, {"author": U1}),
    RuleCase("@request.body.cats.name ?= 'News'", "u1", True, {"cats": [C1, C2]}),
    RuleCase("@request.body.cats.name = 'News'", "u1", False, {"cats": [C1, C2]}),
    RuleCase("@request.body.cats.name = 'News'", "u1", True, {"cats": [C1]}),
    RuleCase("@request.body.meta.tag = 'x'", "u1", True, {"meta": P1_META}),
    RuleCase("@request.body.meta.arr.1 = 2", "u1", True, {"meta": P1_META}),
    RuleCase("@request.body.tags.0 = 'a'", "u1", True, {"tags": ["a", "b"]}),
    RuleCase('@request.body.tags = \'["a","b"]\'', "u1", True, {"tags": ["a", "b"]}),
    RuleCase("@request.body.views > 5", "u1", True, {"views": 10}),
    RuleCase("@request.body.views = '10'", "u1", False, {"views": 10}),
    RuleCase("@request.body.views:isset = true", "u1", True, {"views": 10}),
    RuleCase("@request.body.published = true", "u1", True, {"published": True}),
    RuleCase("@request.body.author = @request.auth.id", "u1", True, {"author": U1}),
    RuleCase("@request.body.author = @request.auth.id", "u2", False, {"author": U1}),
    RuleCase("@request.body.cats = 'c10000000000000'", "u1", False, {"cats": [C1]}),
    RuleCase("@request.body.cats:length = 1", "u1", True, {"cats": [C1]}),
    RuleCase("tags:each = @request.body.tags:each", "u1", False, {"tags": ["a", "b"]}),
    RuleCase("tags:each ?= @request.body.tags:each", "u1", True, {"tags": ["a", "b"]}),
    RuleCase("@request.body.title != title", "u1", False, {"title": "Hello World"}),
    RuleCase("@request.body.title ~ 'world'", "u1", True, {"title": "Hello World"}),
]

RULES = VIEW + UPDATE


@pytest.mark.parametrize("case", RULES, ids=[c.id for c in RULES])
def test_rule(fdb: FilterDB, case: RuleCase) -> None:
    method = "GET" if case.body is None else "PATCH"
    got = fdb.rule(
        case.collection, case.rule, case.record, case.who, body=case.body or {}, method=method,
        headers={"x_token": "abc"},
    )  # fmt: skip
    assert got is case.allowed


def test_multipart_number_strings_compare_as_numbers(fdb: FilterDB) -> None:
    # multipart bodies carry text: a number field's text is compared as a number
    assert fdb.rule("posts", "@request.body.views = 10", rid("p1"), "u1", body={"views": "10"})
    assert fdb.rule("posts", "@request.body.views:changed = false", rid("p1"), "u1", body={"views": "10"})
    assert not fdb.rule("posts", "@request.body.title = 10", rid("p1"), "u1", body={"title": "10"})
    assert fdb.rule("posts", "@request.query.views > 9", rid("p1"), "u1", query={"views": "10"})


def test_body_relation_ids_from_string_forms(fdb: FilterDB) -> None:
    for sent in [C1, f'["{C1}"]', [C1, "", C1]]:
        assert fdb.rule("posts", "@request.body.cats.name = 'News'", rid("p1"), "u1", body={"cats": sent}), (
            sent
        )
    assert not fdb.rule("posts", "@request.body.cats.name = 'News'", rid("p1"), "u1", body={"cats": ""})


def test_static_request_values(fdb: FilterDB) -> None:
    body = {"obj": {"b": 1, "a": [1.0, "x<y"]}, "flag": False, "n": None, "list": ["a", 2]}
    assert fdb.rule("posts", '@request.body.obj = \'{"a":[1,"x\\u003cy"],"b":1}\'', rid("p1"), body=body)
    assert fdb.rule("posts", "@request.body.flag = false && @request.body.n = null", rid("p1"), body=body)
    assert fdb.rule(
        "posts", "@request.body.n:isset = true && @request.body.m:isset = false", rid("p1"), body=body
    )
    assert fdb.rule("posts", "@request.body.list.1 = 2 && @request.body.list.5 = null", rid("p1"), body=body)
    assert fdb.rule("posts", "@request.body.obj.a.1 = 'x<y'", rid("p1"), body=body)
    assert fdb.rule("posts", "@request.context = 'realtime'", rid("p1"), context="realtime")


def test_guest_auth_paths_are_empty(fdb: FilterDB) -> None:
    for rule in [
        "@request.auth.id = ''",
        "@request.auth.friends.name = null",
        "@request.auth.collectionName = ''",
    ]:
        assert fdb.rule("posts", rule, rid("p1"), "guest"), rule


def test_rule_compiles_without_client_restrictions(fdb: FilterDB) -> None:
    ctx = fdb.context("posts", "guest", client_filter=False)
    compile_filter("@request.auth.id = '' && @collection.users.id != '' && note != ''", ctx)
    with pytest.raises(FilterError):
        compile_filter("@request.auth.id = ''", fdb.context("posts", "guest", client_filter=True))

"""A small blog dataset for the filter tests, loadable into SQLite or into a real PocketBase.

Collections (PocketBase 0.40 shapes): users (auth; role, hidden secret, age, multi relation
friends), categories, posts (every field type that filters treat differently), comments (back
relation to posts, no unique index), profiles (back relation to users WITH a unique index).
Tables are created with PocketBase's own column types so SQLite affinities match, e.g. a json
field holding `42` is stored as an integer on both sides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apsw
import pytest

from core.store.filter import (
    SQL,
    FilterContext,
    RequestInfo,
    compile_filter,
    compile_sort,
    register_sql_functions,
)
from core.store.filter.sqlfrag import quote_ident
from core.store.schema import Collection, Field, auth_system_fields, autodate_fields, id_field

NOW = datetime(2026, 3, 15, 10, 20, 30, 123000, tzinfo=UTC)
CREATED = "2025-01-01 00:00:00.000Z"
ALIAS = '"t"'

USERS_ID = "_pb_users_auth_"
SUPERUSERS_ID = "pbc_3142635823"
CATEGORIES_ID = "pbc_1000000001"
POSTS_ID = "pbc_1000000002"
COMMENTS_ID = "pbc_1000000003"
PROFILES_ID = "pbc_1000000004"
STAFF_ID = "pbc_1000000005"
REVIEWS_ID = "pbc_1000000006"


def rid(short: str) -> str:
    """15-char record ids: `p1` -> `p10000000000000`."""
    return (short + "0" * 15)[:15]


def F(name: str, type_: str, **options: Any) -> Field:
    hidden = bool(options.pop("hidden", False))
    return Field(name=name, type=type_, hidden=hidden, options=options)


def build_collections() -> dict[str, Collection]:
    users = Collection(
        name="users",
        type="auth",
        id=USERS_ID,
        fields=[
            id_field(),
            *auth_system_fields(),
            F("name", "text"),
            F("avatar", "file", maxSelect=1),
            F("role", "select", values=["admin", "member"], maxSelect=1),
            F("secret", "text", hidden=True),
            F("age", "number"),
            F("friends", "relation", collectionId=USERS_ID, maxSelect=5),
            *autodate_fields(),
        ],
        listRule="id = @request.auth.id",
        viewRule="id = @request.auth.id",
    )
    superusers = Collection(
        name="_superusers",
        type="auth",
        id=SUPERUSERS_ID,
        system=True,
        fields=[id_field(), *auth_system_fields()],
    )
    categories = Collection(
        name="categories",
        id=CATEGORIES_ID,
        fields=[id_field(), F("name", "text"), F("rank", "number")],
        listRule="",
        viewRule="",
    )
    staff = Collection(name="staff", id=STAFF_ID, fields=[id_field(), F("name", "text")])  # listRule null
    posts = Collection(
        name="posts",
        id=POSTS_ID,
        fields=[
            id_field(),
            F("title", "text"),
            F("views", "number"),
            F("published", "bool"),
            F("meta", "json"),
            F("due", "date"),
            F("status", "select", values=["draft", "live"], maxSelect=1),
            F("tags", "select", values=["a", "b", "c", "x%y"], maxSelect=4),
            F("author", "relation", collectionId=USERS_ID, maxSelect=1),
            F("cats", "relation", collectionId=CATEGORIES_ID, maxSelect=5),
            F("location", "geoPoint"),
            F("note", "text", hidden=True),
            F("editor", "relation", collectionId=STAFF_ID, maxSelect=1),
            *autodate_fields(),
        ],
        listRule="",
        viewRule="",
        createRule="",
        updateRule="",
        deleteRule="",
    )
    comments = Collection(
        name="comments",
        id=COMMENTS_ID,
        fields=[
            id_field(),
            F("post", "relation", collectionId=POSTS_ID, maxSelect=1),
            F("message", "text"),
            F("author", "relation", collectionId=USERS_ID, maxSelect=1),
        ],
        listRule="",
        viewRule="",
    )
    profiles = Collection(
        name="profiles",
        id=PROFILES_ID,
        fields=[id_field(), F("user", "relation", collectionId=USERS_ID, maxSelect=1), F("bio", "text")],
        indexes=["CREATE UNIQUE INDEX `idx_profiles_user` ON `profiles` (`user`)"],
        listRule="",
        viewRule="",
    )
    # a listRule with its own relation join: applied to client filters that reach reviews
    reviews = Collection(
        name="reviews",
        id=REVIEWS_ID,
        fields=[
            id_field(),
            F("post", "relation", collectionId=POSTS_ID, maxSelect=1),
            F("score", "number"),
            F("author", "relation", collectionId=USERS_ID, maxSelect=1),
        ],
        listRule="post.published = true || author = @request.auth.id",
        viewRule="",
    )
    return {c.name: c for c in (users, superusers, categories, staff, posts, comments, profiles, reviews)}


USERS: list[dict[str, Any]] = [
    dict(id=rid("u1"), email="u1@x.com", emailVisibility=True, verified=True, name="User One", role="admin",
         secret="s1", age=30, friends=[]),
    dict(id=rid("u2"), email="u2@x.com", emailVisibility=False, verified=False, name="User Two", role="member",
         secret="s2", age=20, friends=[rid("u1")]),
    dict(id=rid("u3"), email="u3@x.com", emailVisibility=False, verified=False, name="", role="", secret="",
         age=0, friends=[rid("u1"), rid("u2")]),
]  # fmt: skip
SUPERUSER = dict(id="su0000000000001", email="a@a.com", emailVisibility=False, verified=True, tokenKey="tk")
CATEGORIES: list[dict[str, Any]] = [
    dict(id=rid("c1"), name="News", rank=1),
    dict(id=rid("c2"), name="Tech", rank=2),
    dict(id=rid("c3"), name="", rank=3),
]
POSTS: list[dict[str, Any]] = [
    dict(id=rid("p1"), title="Hello World", views=10, published=True, meta={"tag": "x", "n": 5, "arr": [1, 2]},
         due="2025-01-15 10:00:00.000Z", status="live", tags=["a", "b"], author=rid("u1"),
         cats=[rid("c1"), rid("c2")], location={"lon": 23.32, "lat": 42.69}, note="n1", editor=rid("s1")),
    dict(id=rid("p2"), title="Second post", views=600, published=False, meta={"tag": "y"},
         due="2024-06-01 00:00:00.000Z", status="draft", tags=["a"], author=rid("u2"), cats=[rid("c1")],
         location={"lon": -0.12, "lat": 51.5}),
    dict(id=rid("p3"), title="100% pure_fun", views=500, published=True, meta=None, status="", tags=[],
         author="", cats=[]),
    dict(id=rid("p4"), title="", views=0, published=False, meta="str", due="2999-12-31 00:00:00.000Z",
         tags=["c", "x%y"], author=rid("u3"), cats=[rid("c3")]),
    dict(id=rid("p5"), title="hello again", views=-5.5, published=True, meta=42, tags=["b"], author=rid("u1"),
         cats=[rid("c2"), rid("c3")], note="n5"),
]  # fmt: skip
COMMENTS: list[dict[str, Any]] = [
    dict(id=rid("m1"), post=rid("p1"), message="first!", author=rid("u2")),
    dict(id=rid("m2"), post=rid("p1"), message="nice", author=rid("u3")),
    dict(id=rid("m3"), post=rid("p2"), message="meh", author=rid("u1")),
]
PROFILES: list[dict[str, Any]] = [
    dict(id=rid("pr1"), user=rid("u1"), bio="hi"),
    dict(id=rid("pr2"), user=rid("u2"), bio="yo"),
]
STAFF: list[dict[str, Any]] = [dict(id=rid("s1"), name="Ed")]
REVIEWS: list[dict[str, Any]] = [
    dict(id=rid("r1"), post=rid("p1"), score=5, author=rid("u2")),
    dict(id=rid("r2"), post=rid("p2"), score=4, author=rid("u2")),
    dict(id=rid("r3"), post=rid("p2"), score=1, author=rid("u1")),
    dict(id=rid("r4"), post=rid("p3"), score=2, author=rid("u3")),
]
RECORDS: dict[str, list[dict[str, Any]]] = {
    "users": USERS,
    "_superusers": [SUPERUSER],
    "categories": CATEGORIES,
    "staff": STAFF,
    "posts": POSTS,
    "comments": COMMENTS,
    "profiles": PROFILES,
    "reviews": REVIEWS,
}


# -- storage, the way PocketBase stores it ---------------------------------------------------


def column_type(f: Field) -> str:
    if f.name == "id":
        return "TEXT PRIMARY KEY NOT NULL"
    if f.type == "number":
        return "NUMERIC DEFAULT 0 NOT NULL"
    if f.type == "bool":
        return "BOOLEAN DEFAULT FALSE NOT NULL"
    if f.type == "json":
        return "JSON DEFAULT NULL"
    if f.type == "geoPoint":
        return """JSON DEFAULT '{"lon":0,"lat":0}' NOT NULL"""
    if f.is_multi:
        return "JSON DEFAULT '[]' NOT NULL"
    return "TEXT DEFAULT '' NOT NULL"


def stored_value(f: Field, value: Any) -> Any:
    if f.type == "bool":
        return 1 if value else 0
    if f.type == "json":
        return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)
    if f.type == "geoPoint":
        value = value or {"lon": 0, "lat": 0}
        return json.dumps({"lon": value["lon"], "lat": value["lat"]}, separators=(",", ":"))
    if f.is_multi:
        return json.dumps(value or [], separators=(",", ":"))
    if f.type in ("autodate",) and not value:
        return CREATED
    return value


def create_database(path: Path | str, collections: dict[str, Collection]) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    register_sql_functions(conn)
    with conn:
        for col in collections.values():
            cols = ", ".join(f"{quote_ident(f.name)} {column_type(f)}" for f in col.fields)
            conn.execute(f"CREATE TABLE {quote_ident(col.name)} ({cols})")
            for row in RECORDS.get(col.name, []):
                values: dict[str, Any] = {}
                for f in col.fields:
                    default: Any = 0 if f.type in ("number", "bool") else ""
                    values[f.name] = stored_value(f, row.get(f.name, None if f.type == "json" else default))
                marks = ", ".join("?" * len(values))
                names = ", ".join(quote_ident(n) for n in values)
                conn.execute(
                    f"INSERT INTO {quote_ident(col.name)} ({names}) VALUES ({marks})", list(values.values())
                )
    return conn


# -- running filters like the list API does --------------------------------------------------


@dataclass
class Who:
    """A caller: `su`, `u1`, `u2`, `u3` or `guest`."""

    name: str = "su"

    @property
    def is_superuser(self) -> bool:
        return self.name == "su"

    def auth(self, collections: dict[str, Collection]) -> tuple[dict[str, Any] | None, Collection | None]:
        if self.name == "guest":
            return None, None
        if self.name == "su":
            return dict(SUPERUSER), collections["_superusers"]
        row = next(u for u in USERS if u["id"] == rid(self.name))
        users = collections["users"]
        return {f.name: stored_value(f, row.get(f.name, "")) for f in users.fields if f.name in row}, users


@dataclass
class FilterDB:
    conn: apsw.Connection
    collections: dict[str, Collection]
    now: datetime = NOW

    def find(self, name_or_id: str) -> Collection | None:
        for c in self.collections.values():
            if name_or_id in (c.name, c.id):
                return c
        return None

    def context(
        self,
        collection: str,
        who: str = "su",
        *,
        client_filter: bool = True,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        context: str = "default",
    ) -> FilterContext:
        auth, auth_col = Who(who).auth(self.collections)
        return FilterContext(
            collection=self.collections[collection],
            table_alias=ALIAS,
            find_collection=self.find,
            request=RequestInfo(
                auth=auth,
                auth_collection=auth_col,
                body=body or {},
                query=query or {},
                headers=headers or {},
                method=method,
                context=context,
            ),
            is_superuser=Who(who).is_superuser,
            client_filter=client_filter,
            now=self.now,
        )

    def select(self, collection: str, where: list[SQL], order: SQL | None = None) -> list[str]:
        sql = f"SELECT {ALIAS}.id FROM {quote_ident(collection)} AS {ALIAS}"
        params: list[Any] = []
        if where:
            sql += " WHERE " + " AND ".join(f"({w.sql})" for w in where)
            params += [p for w in where for p in w.params]
        if order is not None and order.sql:
            sql += " ORDER BY " + order.sql
            params += order.params
        return [r[0] for r in self.conn.execute(sql, params)]

    def list(self, collection: str, flt: str, who: str = "su", sort: str = "", **request: Any) -> list[str]:
        """Ids a list request returns: the listRule (non-superusers) AND the client filter.

        The request carries what the differential test sends to PocketBase: the query string
        (filter, sort, perPage) and an `X-Token: abc` header.
        """
        query = {"filter": flt, "perPage": "500"} | ({"sort": sort} if sort else {})
        request = {"query": query, "headers": {"x_token": "abc"}} | request
        where: list[SQL] = []
        col = self.collections[collection]
        if who != "su":
            assert col.listRule is not None
            where.append(
                compile_filter(col.listRule, self.context(collection, who, client_filter=False, **request))
            )
        where.append(compile_filter(flt, self.context(collection, who, **request)))
        order = compile_sort(sort, self.context(collection, who, **request)) if sort else None
        return self.select(collection, where, order)

    def rule(self, collection: str, rule: str, record_id: str, who: str = "su", **request: Any) -> bool:
        """Whether an API rule lets `who` act on the record (view/update/delete style)."""
        ctx = self.context(collection, who, client_filter=False, **request)
        sql = compile_filter(rule, ctx)
        where = SQL(f"{ALIAS}.id = ?", [record_id])
        return bool(self.select(collection, [where, sql]))


def short(ids: list[str]) -> list[str]:
    """Record ids back to their short names (`p10000000000000` -> `p1`)."""
    return [i.rstrip("0") if not i.startswith("su") else "su" for i in ids]


@pytest.fixture(scope="module")
def fdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FilterDB]:
    collections = build_collections()
    conn = create_database(tmp_path_factory.mktemp("filter") / "data.db", collections)
    yield FilterDB(conn, collections)
    conn.close()


@dataclass
class Case:
    """One row of a filter table: who lists which collection with what filter, and the ids."""

    filter: str
    ids: list[str]
    who: str = "su"
    collection: str = "posts"
    request: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.who}:{self.collection}:{self.filter}"

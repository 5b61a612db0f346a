"""The fixed field lists (PocketBase's SimpleFieldResolver) compiled and run on SQLite."""

from __future__ import annotations

import json

import apsw
import pytest

from core.store.filter import FilterError, compile_filter, compile_sort, simple_context
from core.store.filter.simple import is_allowed

FIELDS = ("id", "n", "data", r"^data\.[\w\.\:]*\w+$")
ROWS = [
    ("a", 1, {"k": "x", "arr": [10, 20], "statuslower": 1}),
    ("b", 2, {"k": "y", "arr": [30]}),
    ("c", 3, {}),
]


@pytest.fixture(scope="module")
def conn() -> apsw.Connection:
    c = apsw.Connection(":memory:")
    c.execute("CREATE TABLE t (id TEXT, n INTEGER, data JSON)")
    for id_, n, data in ROWS:
        c.execute("INSERT INTO t VALUES (?, ?, ?)", (id_, n, json.dumps(data)))
    return c


CTX = simple_context('"t"', FIELDS)


@pytest.mark.parametrize(
    ("flt", "ids"),
    [
        ('id = "a" || id = "c"', ["a", "c"]),
        ("(n > 1 && n < 3) || n = 1", ["a", "b"]),
        ('data.k = "x"', ["a"]),
        ("data.arr.0 = 30", ["b"]),
        ("data.arr.1 > 15", ["a"]),
        ("data.k = null", ["c"]),
        # like PocketBase, a modifier in a data path is columnified into the key
        ("data.status:lower = 1", ["a"]),
        ('data ~ "arr"', ["a", "b"]),
        ("n = true", ["a"]),
        ("n > 0 && id != null", ["a", "b", "c"]),
    ],
)
def test_filter(conn: apsw.Connection, flt: str, ids: list[str]) -> None:
    sql = compile_filter(flt, CTX)
    got = [r[0] for r in conn.execute(f'SELECT id FROM t AS "t" WHERE ({sql.sql}) ORDER BY id', sql.params)]
    assert got == ids


@pytest.mark.parametrize(
    "flt",
    [
        "n:lower = 1",
        "nope = 1",
        "@request.method = 'GET'",
        "@collection.t.id = 'a'",
        "t.id = 'a'",
    ],
)
def test_unknown_names_fail(flt: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(flt, CTX)


@pytest.mark.parametrize(
    ("sort", "ids"), [("-n", ["c", "b", "a"]), ("data.k,-id", ["c", "a", "b"]), ("-@rowid", ["c", "b", "a"])]
)
def test_sort(conn: apsw.Connection, sort: str, ids: list[str]) -> None:
    sql = compile_sort(sort, CTX)
    assert sql.params == []
    assert [r[0] for r in conn.execute(f'SELECT id FROM t AS "t" ORDER BY {sql.sql}')] == ids


def test_a_path_sqlite_rejects_compiles(conn: apsw.Connection) -> None:
    # `data..k` is on PocketBase's list too; SQLite rejects `$..k` when the query runs, and the
    # list endpoints turn that into PocketBase's 400 (tests/services/test_logs.py)
    sql = compile_filter("data..k = 1", CTX)
    with pytest.raises(apsw.SQLError):
        conn.execute(f'SELECT id FROM t AS "t" WHERE ({sql.sql})', sql.params).fetchall()


@pytest.mark.parametrize("sort", ["n:lower", "nope", "data."])
def test_sort_unknown_names_fail(sort: str) -> None:
    with pytest.raises(FilterError):
        compile_sort(sort, CTX)


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("data", True),
        ("data.a.b", True),
        ("data.a:x", True),
        ("data.", False),
        ("data.a\n", False),
        ("datax", False),
        ("n", True),
        ("N", False),
    ],
)
def test_is_allowed(name: str, allowed: bool) -> None:
    # a plain entry is an exact match; a ^...$ entry must match the whole name (no newline slack)
    assert is_allowed(name, FIELDS) is allowed

"""A sorted list page sorts ids only and reads the page's rows after (record_query.rows_by_id).

SQLite copies whole rows through its sorter, so `SELECT a.* ... ORDER BY ... LIMIT` cost grows
with the width of every row in the table; the page must still be the very rows, in the very
order, that the one-statement query gives, ties included.
"""

from __future__ import annotations

import random
from typing import Any

import apsw

from core.app import App
from core.store.record_query import ListParams, list_records, rows_by_id
from core.store.record_view import fetch_dicts
from core.store.request import RequestContext
from core.store.rules import ALIAS

SORTS = ["k", "k DESC", "k, j DESC", "j DESC, k", "RANDOM() IS NULL, k DESC"]


def _table() -> apsw.Connection:
    conn = apsw.Connection(":memory:")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, k INTEGER, j TEXT, wide TEXT)")
    rng = random.Random(11)
    ids = [f"r{n:014d}" for n in range(400)]
    rng.shuffle(ids)  # rowid order differs from id order
    with conn:
        for i in ids:
            conn.execute(
                "INSERT INTO t VALUES (?, ?, ?, ?)", (i, rng.randint(0, 5), rng.choice("abc"), "x" * 300)
            )
    return conn


def test_pages_equal_the_one_statement_query_ties_included() -> None:
    conn = _table()
    table = f"t AS {ALIAS}"
    for sort in SORTS:
        order = sort.replace("k", f"{ALIAS}.k").replace("j", f"{ALIAS}.j")
        for per_page, offset in ((30, 0), (30, 30), (7, 91), (1000, 0), (30, 390)):
            direct = fetch_dicts(
                conn, f"SELECT {ALIAS}.* FROM {table} ORDER BY {order} LIMIT ? OFFSET ?", (per_page, offset)
            )
            ids = [
                r[0]
                for r in conn.execute(
                    f"SELECT {ALIAS}.`id` FROM {table} ORDER BY {order} LIMIT ? OFFSET ?", (per_page, offset)
                )
            ]
            assert rows_by_id(conn, table, ids) == direct, (sort, per_page, offset)


def test_a_sorted_list_sorts_ids_only(app: App) -> None:
    col = app.store.find("posts")
    assert col is not None
    statements: list[str] = []

    def run(conn: apsw.Connection) -> dict[str, Any]:
        def trace(cursor: Any, sql: str, bindings: Any) -> bool:
            statements.append(sql)
            return True

        conn.exec_trace = trace
        try:
            return list_records(
                conn, col, ListParams(sort="-views", per_page=2), RequestContext(), app.store.find
            )
        finally:
            conn.exec_trace = None

    sorted_page = app.store.db.read_sync(run)
    ordered = [s for s in statements if "ORDER BY" in s]
    assert ordered and all(s.startswith(f"SELECT {ALIAS}.`id` FROM") for s in ordered), ordered
    assert any("`id` IN (" in s for s in statements)

    statements.clear()
    unsorted = app.store.db.read_sync(
        lambda conn: list_records(conn, col, ListParams(per_page=2), RequestContext(), app.store.find)
    )
    assert [i["views"] for i in sorted_page["items"]] == sorted(
        (i["views"] for i in sorted_page["items"]), reverse=True
    )
    assert unsorted["totalItems"] == sorted_page["totalItems"]

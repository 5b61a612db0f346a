"""?sort= -> ORDER BY, table-driven (the order PocketBase 0.40.6 returns for the same data)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.store.filter import FilterError, compile_sort
from tests.store.test_filter_data import FilterDB, fdb, short

__all__ = ["fdb"]


@dataclass
class SortCase:
    sort: str
    ids: list[str]
    who: str = "su"
    collection: str = "posts"
    filter: str = ""


SORTS = [
    SortCase("-views", ["p2", "p3", "p1", "p4", "p5"]),
    SortCase("views", ["p5", "p4", "p1", "p3", "p2"]),
    SortCase("views,-title", ["p5", "p4", "p1", "p3", "p2"]),
    SortCase("+title", ["p4", "p3", "p1", "p2", "p5"]),
    SortCase(" title , -views ", ["p4", "p3", "p1", "p2", "p5"]),
    SortCase("title:lower", ["p4", "p3", "p5", "p1", "p2"]),
    SortCase("@rowid", ["p1", "p2", "p3", "p4", "p5"]),
    SortCase("-@rowid", ["p5", "p4", "p3", "p2", "p1"]),
    SortCase("author.name,-id", ["p3", "p4", "p5", "p1", "p2"]),
    SortCase("-author.age,id", ["p1", "p5", "p2", "p4", "p3"]),
    SortCase("status,-views", ["p3", "p4", "p5", "p2", "p1"]),
    SortCase("published,-views", ["p2", "p4", "p3", "p1", "p5"]),
    SortCase("meta.n,id", ["p2", "p3", "p4", "p5", "p1"]),
    SortCase("-meta.n,id", ["p1", "p2", "p3", "p4", "p5"]),
    SortCase("location.lat,id", ["p3", "p4", "p5", "p1", "p2"]),
    SortCase("tags:length,id", ["p3", "p2", "p5", "p1", "p4"]),
    SortCase("-views", ["p2", "p1", "p5"], filter="author.name ~ 'user'", who="su"),
    SortCase("post.title,-id", ["m2", "m1", "m3"], collection="comments"),
    SortCase("-id,id,id,id,id,id,id,id", ["p5", "p4", "p3", "p2", "p1"]),
    SortCase("-name", ["u2", "u1", "u3"], collection="users"),
    SortCase("name", [], who="guest", collection="users"),
    SortCase("editor,id", ["p2", "p3", "p4", "p5", "p1"], who="guest"),
]


@pytest.mark.parametrize("case", SORTS, ids=[f"{c.who}:{c.sort}" for c in SORTS])
def test_sort(fdb: FilterDB, case: SortCase) -> None:
    got = short(fdb.list(case.collection, case.filter, case.who, sort=case.sort))
    assert got == case.ids


def test_sort_sql_shapes(fdb: FilterDB) -> None:
    ctx = fdb.context("posts")
    assert compile_sort("", ctx).sql == ""
    assert compile_sort("@random", ctx).sql == "RANDOM()"
    assert compile_sort("-@rowid", ctx).sql == '"t"._rowid_ DESC'
    assert compile_sort("views,-title", ctx).sql == '"t"."views" ASC, "t"."title" DESC'
    relation = compile_sort("-author.name", ctx)
    assert relation.sql.startswith("(SELECT ") and relation.sql.endswith(" LIMIT 1) DESC")
    assert relation.params == []


def test_sort_by_multi_valued_path_takes_first_joined_value(fdb: FilterDB) -> None:
    # PocketBase's DISTINCT keeps an arbitrary joined row; we take the first one (json order)
    got = short(fdb.list("posts", "", sort="cats.name,id"))
    assert got == ["p3", "p4", "p1", "p2", "p5"]
    assert sorted(short(fdb.list("posts", "", sort="@random"))) == ["p1", "p2", "p3", "p4", "p5"]


def test_sort_never_removes_rows_for_non_superusers(fdb: FilterDB) -> None:
    # known difference: PocketBase also drops rows whose related record fails its listRule
    assert sorted(short(fdb.list("posts", "", "u1", sort="author.name"))) == ["p1", "p2", "p3", "p4", "p5"]


def test_sort_key_through_a_locked_collection_is_refused(fdb: FilterDB) -> None:
    with pytest.raises(FilterError, match='invalid sort field "editor.name"'):
        compile_sort("editor.name", fdb.context("posts", "u1"))
    assert compile_sort("editor.name", fdb.context("posts", "su")).sql

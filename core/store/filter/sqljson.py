"""SQL over JSON-stored values, in PocketBase's exact shape (tools/dbutils, 0.40).

The CASE guards make a single value (a single select/relation stored as plain text, or a
non-array JSON value) behave as a one-item array, and a non-JSON text behave as a JSON string,
so the same filter works whatever the column holds.
"""

from __future__ import annotations

from core.store.filter.sqlfrag import Frag, sql


def json_each(col: Frag) -> Frag:
    return sql(
        "json_each(CASE WHEN iif(json_valid({}), json_type({})='array', FALSE) THEN {} ELSE json_array({}) END)",
        col,
        col,
        col,
        col,
    )


def json_array_length(col: Frag) -> Frag:
    return sql(
        "json_array_length(CASE WHEN iif(json_valid({}), json_type({})='array', FALSE) THEN {} "
        "ELSE (CASE WHEN {} = '' OR {} IS NULL THEN json_array() ELSE json_array({}) END) END)",
        col,
        col,
        col,
        col,
        col,
        col,
    )


def json_extract(col: Frag, path: str) -> Frag:
    """`path` is like `tag`, `arr[0]`, `[0].x` or '' (the whole value).

    The path is built from identifier characters only ([A-Za-z0-9_.[]]), so it is inlined as
    an SQL string like PocketBase does (it keeps the operand parameter-free, which is what makes
    it a valid sort key); quotes are still doubled as a second line of defence.
    """
    sep = "" if path == "" or path.startswith("[") else "."
    full = _text("$" + sep + path)
    nested = _text("$.pb" + sep + path)
    return sql(
        f"(CASE WHEN json_valid({{}}) THEN JSON_EXTRACT({{}}, {full}) "
        f"ELSE JSON_EXTRACT(json_object('pb', {{}}), {nested}) END)",
        col,
        col,
        col,
    )


def _text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"

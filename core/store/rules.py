"""API rules: null = superusers only, "" = everyone, anything else a filter over the record."""

from __future__ import annotations

from collections.abc import Callable

import apsw

from core.errors import ApiError
from core.store.ddl import quote
from core.store.filter import SQL, FilterContext, FilterError, compile_filter
from core.store.request import RequestContext
from core.store.schema import Collection

SUPERUSER_ONLY = "Only superusers can perform this action."
ALIAS = "`_t0`"

Finder = Callable[[str], Collection | None]


def filter_context(
    col: Collection, req: RequestContext, find: Finder, *, client_filter: bool = False, alias: str = ALIAS
) -> FilterContext:
    return FilterContext(
        collection=col,
        table_alias=alias,
        find_collection=find,
        request=req.info(),
        is_superuser=req.is_superuser,
        client_filter=client_filter,
    )


def rule_sql(
    col: Collection, rule_name: str, req: RequestContext, find: Finder, *, alias: str = ALIAS
) -> SQL | None:
    """SQL that restricts rows to what the rule allows; None when nothing is restricted.

    Raises 403 for a null rule and a non-superuser, as PocketBase does.
    """
    if req.is_superuser:
        return None
    rule = col.rule(rule_name)
    if rule is None:
        raise ApiError(403, SUPERUSER_ONLY)
    if rule.strip() == "":
        return None
    try:
        return compile_filter(rule, filter_context(col, req, find, alias=alias))
    except FilterError as e:
        # a stored rule that no longer compiles (e.g. a field was removed) denies access
        raise ApiError(400, f"Invalid rule: {e}")


def record_matches(conn: apsw.Connection, col: Collection, record_id: str, sql: SQL | None) -> bool:
    if sql is None:
        return True
    row = conn.execute(
        f"SELECT 1 FROM {quote(col.name)} AS {ALIAS} WHERE {ALIAS}.`id` = ? AND ({sql.sql}) LIMIT 1",
        [record_id, *sql.params],
    ).fetchone()
    return row is not None


def matching_ids(conn: apsw.Connection, col: Collection, ids: list[str], sql: SQL | None) -> set[str]:
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    where = f"{ALIAS}.`id` IN ({marks})"
    params: list[object] = list(ids)
    if sql is not None:
        where += f" AND ({sql.sql})"
        params += sql.params
    return {
        r[0]
        for r in conn.execute(f"SELECT {ALIAS}.`id` FROM {quote(col.name)} AS {ALIAS} WHERE {where}", params)
    }

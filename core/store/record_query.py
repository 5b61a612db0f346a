"""Reading records: list with filter/sort/paging, view one, and expand.

All functions here are synchronous and take a reader connection: `Database.read` runs them in a
reader thread inside one read transaction, so a list and its expands see one snapshot.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import apsw

from core.errors import ApiError
from core.store.ddl import quote
from core.store.filter import SQL, FilterContext, FilterError, compile_filter, compile_sort
from core.store.record_view import FieldsSpec, fetch_dicts, serialize
from core.store.request import RequestContext
from core.store.rules import ALIAS, filter_context, matching_ids, rule_sql
from core.store.schema import Collection

Finder = Callable[[str], Collection | None]

MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 30
MAX_EXPAND_DEPTH = 6


@dataclass
class ListParams:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    sort: str = ""
    filter: str = ""
    expand: str = ""
    fields: str = ""
    skip_total: bool = False

    @classmethod
    def from_query(cls, q: Mapping[str, str]) -> ListParams:
        """PocketBase's search.Provider.Parse: a page, perPage or skipTotal that Go cannot parse
        is a 400; out-of-range numbers fall back to the defaults."""
        page = _go_int(q.get("page"), 1)
        per_page = _go_int(q.get("perPage"), DEFAULT_PER_PAGE)
        return cls(
            page=page if page > 0 else 1,
            per_page=DEFAULT_PER_PAGE if per_page <= 0 else min(per_page, MAX_PER_PAGE),
            sort=q.get("sort", ""),
            filter=q.get("filter", ""),
            expand=q.get("expand", ""),
            fields=q.get("fields", ""),
            skip_total=_go_bool(q.get("skipTotal"), False),
        )


_INT64 = 2**63
_GO_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_GO_BOOLS |= {"0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def _go_int(raw: str | None, default: int) -> int:
    """strconv.Atoi ("" = not given)."""
    if not raw:
        return default
    if _GO_INT.fullmatch(raw) is None or not -_INT64 <= int(raw) < _INT64:
        raise ApiError(400)
    return int(raw)


def _go_bool(raw: str | None, default: bool) -> bool:
    """strconv.ParseBool ("" = not given)."""
    if not raw:
        return default
    value = _GO_BOOLS.get(raw)
    if value is None:
        raise ApiError(400)
    return value


def list_records(
    conn: apsw.Connection, col: Collection, params: ListParams, req: RequestContext, find: Finder
) -> dict[str, Any]:
    where: list[str] = []
    args: list[Any] = []
    rule = rule_sql(col, "listRule", req, find)
    if rule is not None:
        where.append(f"({rule.sql})")
        args += rule.params
    order_sql = ""
    args_sort: list[Any] = []
    if params.filter or params.sort:  # the context costs a request-info copy: only when needed
        ctx = filter_context(col, req, find, client_filter=True)
        flt = client_filter(params.filter, ctx)
        if flt is not None:
            where.append(f"({flt.sql})")
            args += flt.params
        order_sql, args_sort = order_clause(params.sort, ctx)
    fields_spec = FieldsSpec.parse(params.fields)
    table = f"{quote(col.name)} AS {ALIAS}"
    where_sql = (" WHERE " + " AND ".join(where)) if where else ""
    # a sorted page picks its ids first, then reads only those rows (see rows_by_id)
    columns = f"{ALIAS}.`id`" if order_sql and not col.is_view else f"{ALIAS}.*"
    rows, meta = page_of(conn, f"{table}{where_sql}", args, order_sql, args_sort, params, columns)
    if columns != f"{ALIAS}.*":
        rows = rows_by_id(conn, table, [r["id"] for r in rows])
    return {"items": present(conn, col, rows, req, find, params.expand, fields_spec), **meta}


def rows_by_id(conn: apsw.Connection, table: str, ids: list[str]) -> list[dict[str, Any]]:
    """The rows of `ids`, in that order.

    SQLite sorts whole rows: `SELECT a.* ... ORDER BY created LIMIT 30` copies every row of the
    table through the sorter, wide texts and all (12 ms for 2,000 records of 12 fields, against
    1.4 ms when only the ids are sorted and the page's rows are read after). The ids come from
    the same scan and sort as before, so ties come out in the same order.
    """
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    found = {
        r["id"]: r
        for r in fetch_dicts(conn, f"SELECT {ALIAS}.* FROM {table} WHERE {ALIAS}.`id` IN ({marks})", ids)
    }
    return [found[i] for i in ids if i in found]


def search_table(
    conn: apsw.Connection, table: str, ctx: FilterContext, params: ListParams, columns: str = "*"
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """One page of a table that is not a collection's (e.g. `_collections`, `_logs`), filtered and
    sorted by the client over the names `ctx` allows."""
    where, args = where_clause(params.filter, ctx)
    order, order_args = order_clause(params.sort, ctx)
    return page_of(conn, f"{table}{where}", args, order, order_args, params, columns)


def where_clause(flt: str, ctx: FilterContext) -> tuple[str, list[Any]]:
    """` WHERE (<client filter>)` and its parameters, or "" for no filter."""
    compiled = client_filter(flt, ctx)
    return (f" WHERE ({compiled.sql})", compiled.params) if compiled else ("", [])


def order_clause(sort: str, ctx: FilterContext) -> tuple[str, list[Any]]:
    """` ORDER BY <client sort>` and its parameters, or "" for no sort."""
    compiled = client_sort(sort, ctx)
    return (f" ORDER BY {compiled.sql}", compiled.params) if compiled else ("", [])


def client_filter(flt: str, ctx: FilterContext) -> SQL | None:
    """A client's ?filter= (None when absent); a bad one is PocketBase's 400 (or 403)."""
    # only spaces is an error in PocketBase, not "no filter": test for "", not strip()
    if not flt:
        return None
    try:
        return compile_filter(flt, ctx)
    except FilterError as e:
        raise ApiError(e.status, e.api_message) from None


def client_sort(sort: str, ctx: FilterContext) -> SQL | None:
    """A client's ?sort= (None when absent or empty); a bad one is PocketBase's 400 (or 403)."""
    if not sort:
        return None
    try:
        compiled = compile_sort(sort, ctx)
    except FilterError as e:
        raise ApiError(e.status, e.api_message) from None
    return compiled if compiled.sql else None


def page_of(
    conn: apsw.Connection,
    source: str,
    args: list[Any],
    order_sql: str,
    order_args: list[Any],
    params: ListParams,
    columns: str = "*",
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """One page of `SELECT columns FROM source order_sql` (source: table and WHERE) and
    PocketBase's paging fields; totals are -1 with skipTotal."""
    # SQLite's OFFSET is a signed 64-bit integer (a page that far is empty anyway)
    offset = min((params.page - 1) * params.per_page, _INT64 - 1)
    try:
        rows = fetch_dicts(
            conn,
            f"SELECT {columns} FROM {source}{order_sql} LIMIT ? OFFSET ?",
            [*args, *order_args, params.per_page, offset],
        )
        if params.skip_total:
            total, pages = -1, -1
        else:
            total = int(scalar(conn, f"SELECT COUNT(*) FROM {source}", args) or 0)
            pages = math.ceil(total / params.per_page) if total else 0
    except apsw.SQLError:
        # a filter SQLite rejects while running (e.g. the json path of `data..k`): PocketBase
        # answers every failed list query with its generic 400
        raise ApiError(400) from None
    return rows, {"page": params.page, "perPage": params.per_page, "totalItems": total, "totalPages": pages}


def view_record(
    conn: apsw.Connection,
    col: Collection,
    record_id: str,
    req: RequestContext,
    find: Finder,
    expand: str = "",
    fields: str = "",
) -> dict[str, Any]:
    rule = rule_sql(col, "viewRule", req, find)
    where = f"{ALIAS}.`id` = ?"
    args: list[Any] = [record_id]
    if rule is not None:
        where += f" AND ({rule.sql})"
        args += rule.params
    rows = fetch_dicts(
        conn, f"SELECT {ALIAS}.* FROM {quote(col.name)} AS {ALIAS} WHERE {where} LIMIT 1", args
    )
    if not rows:
        raise ApiError(404)
    return present(conn, col, rows, req, find, expand, FieldsSpec.parse(fields))[0]


# rule syntax that reaches beyond the record's own row and its direct relations, with a cost that
# grows with another table's size
_UNBOUNDED_RULE = ("@collection", "_via_")


def is_point_read(col: Collection, expand: str = "") -> bool:
    """Whether viewing one record of `col` costs one indexed row lookup (plus direct relations):
    no expand, a table rather than a SQL view, and rules with no @collection or back-relation."""
    if expand or col.is_view:
        return False
    rules = [col.viewRule or ""]
    if col.is_auth:
        rules.append(str(col.auth.get("manageRule") or ""))
    return not any(marker in rule for rule in rules for marker in _UNBOUNDED_RULE)


def scalar(conn: apsw.Connection, sql: str, args: Any = ()) -> Any:
    row = conn.execute(sql, args).fetchone()
    return row[0] if row else None


def load_raw(conn: apsw.Connection, col: Collection, record_id: str) -> dict[str, Any] | None:
    rows = fetch_dicts(conn, f"SELECT * FROM {quote(col.name)} WHERE `id` = ? LIMIT 1", (record_id,))
    return rows[0] if rows else None


def present(
    conn: apsw.Connection,
    col: Collection,
    rows: list[dict[str, Any]],
    req: RequestContext,
    find: Finder,
    expand: str = "",
    fields_spec: FieldsSpec | None = None,
) -> list[dict[str, Any]]:
    """Serialize rows as the caller may see them, expanded and projected."""
    manage = manage_ids(conn, col, [r["id"] for r in rows], req, find)
    items = [serialize(col, r, req, manage_ids=manage) for r in rows]
    if expand.strip():
        tree = parse_expand(expand)
        expand_into(conn, col, rows, items, tree, req.with_context("expand"), find, 1)
    if fields_spec is not None:
        items = [fields_spec.apply(i) for i in items]
    return items


def manage_ids(
    conn: apsw.Connection, col: Collection, ids: list[str], req: RequestContext, find: Finder
) -> set[str] | None:
    if not col.is_auth or req.is_superuser or req.auth is None:
        return None
    rule = col.rule("manageRule")
    if rule is None:
        return None
    if rule.strip() == "":
        return set(ids)
    try:
        sql = compile_filter(rule, filter_context(col, req, find))
    except FilterError:
        return None
    return matching_ids(conn, col, ids, sql)


# -- expand -----------------------------------------------------------------------------------

ExpandTree = dict[str, "ExpandTree"]


def parse_expand(raw: str) -> ExpandTree:
    tree: ExpandTree = {}
    for path in raw.split(","):
        path = path.strip()
        if not path:
            continue
        node = tree
        for depth, key in enumerate(path.split(".")):
            if depth >= MAX_EXPAND_DEPTH:
                break
            node = node.setdefault(key.strip(), {})
    return tree


def _ids_of(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v]
    if isinstance(value, str):
        if value.startswith("["):
            try:
                parsed = json.loads(value)
            except ValueError:
                return [value]
            return [str(v) for v in parsed if v] if isinstance(parsed, list) else []
        return [value] if value else []
    return []


def _fetch_visible(
    conn: apsw.Connection, target: Collection, where: str, args: list[Any], req: RequestContext, find: Finder
) -> list[dict[str, Any]]:
    try:
        rule = rule_sql(target, "viewRule", req, find)
    except ApiError:
        return []  # a superuser-only collection is silently left out of an expand
    if rule is not None:
        where = f"({where}) AND ({rule.sql})"
        args = [*args, *rule.params]
    return fetch_dicts(conn, f"SELECT {ALIAS}.* FROM {quote(target.name)} AS {ALIAS} WHERE {where}", args)


def expand_into(
    conn: apsw.Connection,
    col: Collection,
    rows: list[dict[str, Any]],
    items: list[dict[str, Any]],
    tree: ExpandTree,
    req: RequestContext,
    find: Finder,
    depth: int,
) -> None:
    for key, subtree in tree.items():
        field = col.get_field(key)
        if field is not None and field.hidden and not req.is_superuser:
            # Not in PocketBase 0.40, which expands a hidden relation for anyone and so shows
            # the value the field hides: here it is left out as if it did not exist.
            continue
        if field is not None and field.type == "relation":
            target = find(str(field.opt("collectionId", "")))
            if target is None:
                continue
            # a known relation gets `expand: {}` even when nothing is visible (PocketBase does)
            for item in items:
                item.setdefault("expand", {})
            wanted = sorted({i for r in rows for i in _ids_of(r.get(key))})
            if not wanted:
                continue
            marks = ",".join("?" * len(wanted))
            found = _fetch_visible(conn, target, f"{ALIAS}.`id` IN ({marks})", wanted, req, find)
            found_items = _expanded_items(conn, target, found, subtree, req, find, depth)
            by_id = {r["id"]: it for r, it in zip(found, found_items, strict=True)}
            for row, item in zip(rows, items, strict=True):
                ids = _ids_of(row.get(key))
                if field.is_multi:
                    values = [by_id[i] for i in ids if i in by_id]
                    if values:
                        item.setdefault("expand", {})[key] = values
                elif ids and ids[0] in by_id:
                    item.setdefault("expand", {})[key] = by_id[ids[0]]
            continue
        if "_via_" in key:
            target_name, _, rel_name = key.partition("_via_")
            target = find(target_name)
            rel = target.get_field(rel_name) if target else None
            if target is None or rel is None or rel.type != "relation" or rel.opt("collectionId") != col.id:
                continue
            if rel.hidden and not req.is_superuser:
                continue  # a hidden relation read from the other side (see above)
            for item in items:
                item.setdefault("expand", {})
            ids = [r["id"] for r in rows]
            if not ids:
                continue
            marks = ",".join("?" * len(ids))
            column = f"{ALIAS}.{quote(rel_name)}"
            if rel.is_multi:
                where = f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value IN ({marks}))"
            else:
                where = f"{column} IN ({marks})"
            found = _fetch_visible(conn, target, where, ids, req, find)
            found_items = _expanded_items(conn, target, found, subtree, req, find, depth)
            for row, item in zip(rows, items, strict=True):
                matches = [
                    it
                    for r, it in zip(found, found_items, strict=True)
                    if row["id"] in _ids_of(r.get(rel_name))
                ]
                if matches:
                    item.setdefault("expand", {})[key] = matches
            continue


def _expanded_items(
    conn: apsw.Connection,
    target: Collection,
    rows: list[dict[str, Any]],
    subtree: ExpandTree,
    req: RequestContext,
    find: Finder,
    depth: int,
) -> list[dict[str, Any]]:
    manage = manage_ids(conn, target, [r["id"] for r in rows], req, find)
    items = [serialize(target, r, req, manage_ids=manage) for r in rows]
    if subtree and depth < MAX_EXPAND_DEPTH:
        expand_into(conn, target, rows, items, subtree, req, find, depth + 1)
    return items

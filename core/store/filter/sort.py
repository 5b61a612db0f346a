"""`?sort=` -> ORDER BY items: `-f` DESC, `f`/`+f` ASC, `@random`, `@rowid`, relation paths.

A sort key must resolve to a column (a static value such as `@request.auth.id` or `null` is
rejected, like PocketBase). A key reached through joins becomes a correlated scalar subquery;
for a multi-valued path it takes the first joined value, which is what SQLite's DISTINCT keeps in
PocketBase's joined query.

Not PocketBase's: for a non-superuser client an auth record's `email` sorts as NULL where
emailVisibility is off (PocketBase orders by the hidden addresses too).

Not mirrored: for a non-superuser, PocketBase also applies the related collection's listRule to
the *rows* when sorting by a relation path (rows whose related record is not listable disappear).
Here sorting never removes rows; a null listRule still makes such a sort key an error.
"""

from __future__ import annotations

from core.store.filter import gostr
from core.store.filter.compiler import ROOT_ALIAS, check_client_expression, root_scope
from core.store.filter.context import SQL, FilterContext
from core.store.filter.errors import SORT_EXPR_LIMIT, SORT_FIELD_LENGTH_LIMIT, FilterError
from core.store.filter.resolver import resolve_field
from core.store.filter.sqlfrag import Frag, join, quote_ident, sql

MAX_SORT_EXPRESSIONS = 8
MAX_SORT_FIELD_LENGTH = 255


def parse_sort(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for part in text.split(","):
        part = part.strip()
        if part.startswith("-"):
            out.append((part[1:], "DESC"))
        else:
            out.append((part.removeprefix("+"), "ASC"))
    return out


def compile_sort(expr: str, ctx: FilterContext) -> SQL:
    """Compile a sort expression into the body of an ORDER BY clause ("" when expr is "")."""
    if expr == "":
        return SQL("", [])
    check_client_expression(expr, ctx)
    fields = parse_sort(expr)
    if len(fields) > MAX_SORT_EXPRESSIONS:
        raise FilterError(SORT_EXPR_LIMIT)
    items: list[Frag] = []
    for name, direction in fields:
        if len(name.encode()) > MAX_SORT_FIELD_LENGTH:
            raise FilterError(SORT_FIELD_LENGTH_LIMIT)
        if name == "@random":
            items.append(Frag("RANDOM()"))
        elif name == "@rowid":
            items.append(Frag(f"{ctx.table_alias}._rowid_ {direction}"))
        else:
            items.append(sql(f"{{}} {direction}", _sort_key(name, ctx)))
    out = join(", ", items)
    return SQL(out.sql, list(out.params))


def _sort_key(name: str, ctx: FilterContext) -> Frag:
    scope = root_scope(ctx)
    try:
        resolved = resolve_field(scope, name)
    except FilterError:
        raise FilterError(f"invalid sort field {gostr.quote(name)}") from None
    ident = resolved.ident
    if ident.params or ident.sql == "" or ident.sql.lower() == "null":
        raise FilterError(f"invalid sort field {gostr.quote(name)}")
    if resolved.visible_when is not None:
        # Not in PocketBase, which orders a guest's `?sort=email` by every address: with one
        # account of their own a client could then binary-search the hidden ones. Values the
        # caller may not see sort as NULL, like the filter that cannot match them.
        ident = sql("(CASE WHEN {} THEN {} END)", resolved.visible_when, ident)
    if not scope.joins:
        return ident
    joins = join(" ", [j.build() for j in scope.joins.values()])
    return sql(f"(SELECT {{}} FROM (SELECT 1) {quote_ident(ROOT_ALIAS)} {{}} LIMIT 1)", ident, joins)

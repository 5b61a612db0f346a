"""Filter text -> one boolean SQL expression over the caller's table alias.

PocketBase puts the joins a filter needs (relations, json_each, @collection, the auth record)
on the main query as LEFT JOINs and de-duplicates rows with DISTINCT. Here the same joins live in
one correlated subquery instead,

    EXISTS (SELECT 1 FROM (SELECT 1) "__pf_root" LEFT JOIN ... WHERE <filter>)

which keeps a row exactly when PocketBase's joined query has at least one matching joined row,
so the caller only adds `WHERE (<sql>)` and never sees duplicates.
"""

from __future__ import annotations

from datetime import datetime

from core.store.filter import gostr
from core.store.filter.ast import JOIN_OR, Expr, Group, Token, TokenType
from core.store.filter.context import SQL, CollectionFinder, FilterContext, RequestInfo
from core.store.filter.errors import (
    FILTER_BY_COLLECTION_MESSAGE,
    FILTER_BY_REQUEST_MESSAGE,
    FILTER_EXPR_LIMIT,
    FILTER_LENGTH_LIMIT,
    FILTER_NESTING_LIMIT,
    FilterError,
)
from core.store.filter.functions import FUNCTIONS
from core.store.filter.macros import MACROS, utc_now
from core.store.filter.operators import build_op
from core.store.filter.parser import parse
from core.store.filter.resolver import resolve_field
from core.store.filter.results import Counter, Resolved, Scope, literal
from core.store.filter.sqlfrag import Frag, join, param, quote_ident, sql
from core.store.schema import Collection

MAX_FILTER_LENGTH = 3500  # bytes, like Go's len()
MAX_FILTER_EXPRESSIONS = 200

# used when no field of that name exists: `null`, `true`, `false` (any case)
NORMALIZED_IDENTIFIERS = {"null": "NULL", "true": "1", "false": "0"}

ROOT_ALIAS = "__pf_root"


def check_client_expression(expr: str, ctx: FilterContext) -> None:
    """PocketBase's guard on ?filter/?sort of non-superusers: a plain substring test."""
    if ctx.client_filter and not ctx.is_superuser:
        if "@collection." in expr:
            raise FilterError(FILTER_BY_COLLECTION_MESSAGE, status=403)
        if "@request." in expr:
            raise FilterError(FILTER_BY_REQUEST_MESSAGE, status=403)


def root_scope(ctx: FilterContext) -> Scope:
    return Scope(
        ctx=ctx,
        collection=ctx.collection,
        base_ref=ctx.table_alias,
        key="__pf",
        suffix="",
        allow_hidden=ctx.allow_hidden,
        counter=Counter(),
    )


class Builder:
    """Turns parsed groups into SQL within one scope (PocketBase's buildParsedFilterExpr)."""

    def __init__(self, scope: Scope, now: datetime) -> None:
        self.scope = scope
        self.now = now
        self.remaining = MAX_FILTER_EXPRESSIONS

    def groups(self, groups: tuple[Group, ...]) -> Frag:
        out: list[Frag] = []
        for g in groups:
            if isinstance(g.item, Expr):
                if self.remaining <= 0:
                    raise FilterError(FILTER_EXPR_LIMIT)
                self.remaining -= 1
                part = self.expr(g.item)
            else:
                part = self.groups(g.item)
            if out:
                out.append(Frag(" OR " if g.join == JOIN_OR else " AND "))
            out.append(part)
        return sql("({})", join("", out))

    def expr(self, e: Expr) -> Frag:
        try:
            left = self.token(e.left)
        except FilterError as err:
            raise FilterError(f"invalid left operand {gostr.quote(e.left.literal)} - {err}") from None
        try:
            right = self.token(e.right)
        except FilterError as err:
            raise FilterError(f"invalid right operand {gostr.quote(e.right.literal)} - {err}") from None
        return build_op(left, e.op, right, self.scope.unique)

    def token(self, t: Token) -> Resolved:
        if t.type == TokenType.IDENTIFIER:
            macro = MACROS.get(t.literal)
            if macro is not None:
                return Resolved(param(macro(self.now)))
            try:
                return resolve_field(self.scope, t.literal)
            except FilterError:
                normalized = NORMALIZED_IDENTIFIERS.get(t.literal.lower())
                if normalized is not None:
                    return literal(normalized)
                raise
        if t.type == TokenType.TEXT:
            return Resolved(param(t.literal))
        if t.type == TokenType.NUMBER:
            # PocketBase binds every number literal as float64
            return Resolved(param(float(t.literal)))
        if t.type == TokenType.FUNCTION:
            fn = FUNCTIONS.get(t.literal)
            if fn is None:
                raise FilterError(f"unknown function {gostr.quote(t.literal)}")
            return fn(self.token, t.args)
        raise FilterError(f"unsupported token type {gostr.quote(t.type.value)}")


def build_where(scope: Scope, text: str, now: datetime) -> Frag:
    """The filter's condition plus the listRules of the collections its joins reached."""
    where = Builder(scope, now).groups(parse(text))
    for n, (alias, collection) in enumerate(list(scope.list_rule_joins.items()), start=1):
        rule = collection.listRule
        if not rule:
            continue
        where = sql("{} AND {}", where, _list_rule(scope, alias, collection, rule, n, now))
    return where


def _list_rule(scope: Scope, alias: str, collection: Collection, rule: str, n: int, now: datetime) -> Frag:
    # The related collection's listRule, evaluated on the joined row; a row that joined nothing
    # (empty relation) passes, as in PocketBase 0.40.
    nested = Scope(
        ctx=scope.ctx,
        collection=collection,
        base_ref=quote_ident(alias),
        key=f"{alias}_lr{n}",
        suffix=f"_lr{n}",
        allow_hidden=True,
        counter=scope.counter,
        joins=scope.joins,
    )
    try:
        cond = Builder(nested, now).groups(parse(rule))
    except FilterError as e:
        raise FilterError(
            f"to build {gostr.quote(collection.name)} list rule join subquery filter expression: {e}"
        ) from None
    ref = quote_ident(alias)
    return sql(f'((({ref}."id" = \'\' OR {ref}."id" IS NULL) OR {{}}))', cond)


def with_joins(scope: Scope, expr: Frag) -> Frag:
    """Wrap `expr` in a correlated subquery carrying the scope's joins (if it has any)."""
    if not scope.joins:
        return expr
    joins = join(" ", [j.build() for j in scope.joins.values()])
    return sql(f"EXISTS (SELECT 1 FROM (SELECT 1) {quote_ident(ROOT_ALIAS)} {{}} WHERE {{}})", joins, expr)


def compile_filter(expr: str, ctx: FilterContext) -> SQL:
    """Compile a PocketBase filter or rule into `SQL(sql, params)` for `WHERE (<sql>)`.

    "" means "no condition". Whitespace or comments alone are an error, as in PocketBase
    (`?filter=%20` is a 400 there, and such a rule cannot be saved).
    """
    if expr == "":
        return SQL("1=1", [])
    check_client_expression(expr, ctx)
    if len(expr.encode()) > MAX_FILTER_LENGTH:
        raise FilterError(FILTER_LENGTH_LIMIT)
    scope = root_scope(ctx)
    try:
        out = with_joins(scope, build_where(scope, expr, utc_now(ctx.now)))
    except RecursionError:
        # Some 900 nested groups fit in 3500 bytes but not in Python's stack. PocketBase parses
        # them (Go stacks grow); here they are a plain 400, and each level re-scans the group's
        # text, so going deeper would only cost more CPU for a filter no client writes.
        raise FilterError(FILTER_NESTING_LIMIT) from None
    return SQL(out.sql, list(out.params))


def check_rule_syntax(
    expr: str | None,
    collection: Collection,
    find_collection: CollectionFinder,
) -> None:
    """Validate a collection rule at save time (raises FilterError); null and "" are valid.

    Like PocketBase, the rule is compiled for an empty request, so `@request.auth.*` paths are
    not checked against the auth collection (it is unknown until a request comes).
    """
    if expr is None or expr == "":
        return
    ctx = FilterContext(
        collection=collection,
        table_alias=quote_ident(collection.name),
        find_collection=find_collection,
        request=RequestInfo(),
    )
    compile_filter(expr, ctx)

"""One comparison `left op right` as SQL: PocketBase's buildResolversExpr, case by case.

The empty-value rules are PocketBase's: '' and NULL are the same "empty" value, so `f = null`,
`f = ''` and `f = @request.body.missing` all match empty/NULL columns, and `!=` uses IS NOT so
that a NULL column still counts as different from 'x'.
"""

from __future__ import annotations

from typing import Any

from core.store.filter import gostr
from core.store.filter.ast import is_any_op
from core.store.filter.results import NullFallback, Resolved
from core.store.filter.sqlfrag import Frag, quote_ident, sql

_COMPARE = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}


def build_op(left: Resolved, op: str, right: Resolved, new_alias: Any = None) -> Frag:
    """SQL for `left op right`; `new_alias(prefix)` names the multi-match subqueries."""
    base = op[1:] if is_any_op(op) else op
    if base == "=":
        expr = equal_expr(True, left, right)
    elif base == "!=":
        expr = equal_expr(False, left, right)
    elif base in ("~", "!~"):
        expr = like_expr(base == "!~", left, right)
    elif base in _COMPARE:
        expr = sql(f"{{}} {_COMPARE[base]} {{}}", left.ident, right.ident)
    else:  # the lexer only produces known operators
        raise ValueError(f"unknown expression operator {op!r}")

    if not is_any_op(op) and new_alias is not None:
        # plain operators on a multi-valued operand: every item must match
        if left.multi_match is not None and right.multi_match is not None:
            expr = sql("(({}) AND ({}))", expr, _many_vs_many(left, op, right, new_alias))
        elif left.multi_match is not None:
            expr = sql("(({}) AND ({}))", expr, _many_vs_one(left, op, right, False, new_alias))
        elif right.multi_match is not None:
            expr = sql("(({}) AND ({}))", expr, _many_vs_one(right, op, left, True, new_alias))

    if left.after_build is not None:
        expr = left.after_build(expr)
    if right.after_build is not None:
        expr = right.after_build(expr)
    return expr


def _negate(expr: Frag) -> Frag:
    return sql("NOT ({})", expr)


def _many_vs_one(multi: Resolved, op: str, other: Resolved, inverse: bool, new_alias: Any) -> Frag:
    # "no value of the subquery fails the comparison"
    assert multi.multi_match is not None
    alias = quote_ident(new_alias("__sm"))
    r1 = Resolved(Frag(f'{alias}."multiMatchValue"'), multi.null_fallback, after_build=_negate)
    r2 = Resolved(other.ident)
    where = build_op(r2, op, r1) if inverse else build_op(r1, op, r2)
    return sql(f"NOT EXISTS (SELECT 1 FROM ({{}}) {alias} WHERE {{}})", multi.multi_match.build(), where)


def _many_vs_many(left: Resolved, op: str, right: Resolved, new_alias: Any) -> Frag:
    assert left.multi_match is not None and right.multi_match is not None
    la, ra = quote_ident(new_alias("__ml")), quote_ident(new_alias("__mr"))
    where = build_op(
        Resolved(Frag(f'{la}."multiMatchValue"'), left.null_fallback),
        op,
        Resolved(Frag(f'{ra}."multiMatchValue"'), right.null_fallback, after_build=_negate),
    )
    return sql(
        f"NOT EXISTS (SELECT 1 FROM ({{}}) {la} LEFT JOIN ({{}}) {ra} WHERE {{}})",
        left.multi_match.build(),
        right.multi_match.build(),
        where,
    )


# -- = and != ---------------------------------------------------------------------------------


def _is_empty_ident(r: Resolved) -> bool:
    return r.ident.sql.lower() in ("", "null", "''", '""', "``")


def _has_empty_param(r: Resolved) -> bool:
    return any(p is None or p == "" for p in r.ident.params)


def _is_known_non_empty(r: Resolved) -> bool:
    if r.null_fallback == NullFallback.ENFORCED:
        return False
    if r.ident.sql.lower() in ("1", "0", "false", "true"):
        return True
    return len(r.ident.params) > 0 and not _has_empty_param(r) and not _is_empty_ident(r)


def _is_empty(r: Resolved) -> bool:
    return _is_empty_ident(r) or (
        r.null_fallback == NullFallback.AUTO and len(r.ident.params) == 1 and _has_empty_param(r)
    )


def equal_expr(equal: bool, left: Resolved, right: Resolved) -> Frag:
    if equal:
        eq, null_eq, concat, null_expr = "=", "IS", "OR", "IS NULL"
    else:
        # IS NOT, never !=: `'x' != NULL` is NULL, but a NULL column is "different from 'x'"
        eq, null_eq, concat, null_expr = "IS NOT", "IS NOT", "AND", "IS NOT NULL"

    if NullFallback.DISABLED in (left.null_fallback, right.null_fallback):
        return sql(f"{{}} {null_eq} {{}}", left.ident, right.ident)

    left_empty, right_empty = _is_empty(left), _is_empty(right)
    empty = Frag("''")

    if left_empty and right_empty:
        return Frag(f"'' {eq} ''")

    # one side is known to be non-empty: a direct comparison (index friendly)
    if _is_known_non_empty(left) or _is_known_non_empty(right):
        return sql(
            f"{{}} {eq} {{}}",
            empty if left_empty else left.ident,
            empty if right_empty else right.ident,
        )

    if left_empty:
        return sql(f"('' {eq} {{}} {concat} {{}} {null_expr})", right.ident, right.ident)
    if right_empty:
        return sql(f"({{}} {eq} '' {concat} {{}} {null_expr})", left.ident, left.ident)

    return sql(f"COALESCE({{}}, '') {eq} COALESCE({{}}, '')", left.ident, right.ident)


# -- ~ and !~ ---------------------------------------------------------------------------------


def like_expr(negate: bool, left: Resolved, right: Resolved) -> Frag:
    like = "NOT LIKE" if negate else "LIKE"
    if not right.ident.params:
        # a column (or NULL/number keyword): match it as a substring
        return sql(f"{{}} {like} ('%' || {{}} || '%') ESCAPE '\\'", left.ident, right.ident)
    wrapped = Frag(right.ident.sql, tuple(wrap_like_value(v) for v in right.ident.params))
    return sql(f"{{}} {like} {{}} ESCAPE '\\'", left.ident, wrapped)


def wrap_like_value(value: Any) -> str:
    """`abc` -> `%abc%` with `\\`, `%`, `_` escaped, unless the value has an explicit `%`."""
    s = gostr.to_string(value)
    if _contains_unescaped(s, "%"):
        return s
    return "%" + _escape_unescaped(s, "\\%_") + "%"


def _contains_unescaped(s: str, ch: str) -> bool:
    prev = ""
    for c in s:
        if c == ch and prev != "\\":
            return True
        prev = "" if (c == "\\" and prev == "\\") else c
    return False


def _escape_unescaped(s: str, specials: str) -> str:
    # A port of PocketBase's escapeUnescapedChars, scanning from the end. It has a quirk kept on
    # purpose: the character right before a special one is never itself checked, so in `__` only
    # the second underscore gets escaped (`%_\_%`, as PocketBase sends to SQLite).
    out: list[str] = []
    match = False
    for i in range(len(s) - 1, -1, -1):
        c = s[i]
        if match:
            if c != "\\":
                out.append("\\")
            match = False
        elif c in specials:
            match = True
        out.append(c)
        if i == 0 and match:
            out.append("\\")
    return "".join(reversed(out))

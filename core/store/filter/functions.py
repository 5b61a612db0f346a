"""Filter functions: `geoDistance(lonA, latA, lonB, latB)` and `strftime(format, time, mods...)`.

Both are PocketBase's (tools/search/token_functions.go): the same argument checks, error texts
and SQL. geoDistance is the haversine distance in km on SQLite's math functions, clamped into
acos' domain; strftime is SQLite's own, with NULL folded like an empty text.
"""

from __future__ import annotations

from collections.abc import Callable

from core.store.filter.ast import Token, TokenType
from core.store.filter.errors import FilterError
from core.store.filter.results import MultiMatch, NullFallback, Resolved
from core.store.filter.sqlfrag import Frag, join, sql

ArgResolver = Callable[[Token], Resolved]


def geo_distance(resolve: ArgResolver, args: tuple[Token, ...]) -> Resolved:
    if len(args) != 4:
        raise FilterError(f"[geoDistance] expected 4 arguments, got {len(args)}")
    resolved: list[Resolved] = []
    for i, arg in enumerate(args):
        if arg.type not in (TokenType.IDENTIFIER, TokenType.NUMBER):
            raise FilterError(f"[geoDistance] argument {i} must be an identifier or number")
        try:
            resolved.append(resolve(arg))
        except FilterError as e:
            raise FilterError(f"[geoDistance] failed to resolve argument {i}: {e}") from None
    lon_a, lat_a, lon_b, lat_b = (r.ident for r in resolved)
    # like SQLite's built-in functions: multi-valued arguments match if any value does
    ident = sql(
        "(6371 * acos(min(1, max(-1, cos(radians({})) * cos(radians({})) * cos(radians({}) - radians({})) "
        "+ sin(radians({})) * sin(radians({}))))))",
        lat_a,
        lat_b,
        lon_b,
        lon_a,
        lat_a,
        lat_b,
    )
    return Resolved(ident, NullFallback.DISABLED)


def strftime(resolve: ArgResolver, args: tuple[Token, ...]) -> Resolved:
    total = len(args)
    if total < 1:
        raise FilterError(f"[strftime] expected at least 1 arguments, got {total}")
    if total > 10:
        raise FilterError(f"[strftime] too many arguments (max allowed 10, got {total})")
    if args[0].type != TokenType.TEXT:
        raise FilterError("[strftime] expects the first argument to be a format string")
    fmt = _resolve(resolve, args[0], "format argument")
    if total == 1:
        return Resolved(sql("strftime({})", fmt.ident), NullFallback.ENFORCED)

    if args[1].type not in (TokenType.TEXT, TokenType.IDENTIFIER, TokenType.NUMBER):
        raise FilterError("[strftime] expects the second argument to be of a valid time-value type")
    time_value = _resolve(resolve, args[1], "time-value argument")
    modifiers: list[Frag] = []
    for i, arg in enumerate(args[2:]):
        if arg.type != TokenType.TEXT:
            raise FilterError(f"[strftime] invalid modifier argument {i} - can be only string")
        modifiers.append(_resolve(resolve, arg, f"modifier argument {i}").ident)

    def call(time_ident: Frag) -> Frag:
        return sql("strftime({})", join(",", [fmt.ident, time_ident, *modifiers]))

    result = Resolved(call(time_value.ident), NullFallback.ENFORCED)
    mm = time_value.multi_match
    if mm is not None and mm.value is not None:
        # a multi-valued time (e.g. a multi relation's date): every value is formatted
        result.multi_match = MultiMatch(mm.from_table, mm.from_alias, mm.base_ref, mm.joins, call(mm.value))
    return result


def _resolve(resolve: ArgResolver, arg: Token, what: str) -> Resolved:
    try:
        return resolve(arg)
    except FilterError as e:
        raise FilterError(f"[strftime] failed to resolve {what}: {e}") from None


FUNCTIONS: dict[str, Callable[[ArgResolver, tuple[Token, ...]], Resolved]] = {
    "geoDistance": geo_distance,
    "strftime": strftime,
}

"""SQL functions the compiled filters call, for SQLite builds that lack them.

The bundled APSW SQLite has math functions compiled in (acos, cos, sin, radians, used by
geoDistance); a build without SQLITE_ENABLE_MATH_FUNCTIONS gets Python versions instead, so the
lead can call this on every connection unconditionally.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import apsw


def _unary(fn: Callable[[float], float]) -> Callable[..., float | None]:
    def call(x: int | float | str | bytes | None) -> float | None:
        if x is None or isinstance(x, bytes):
            return None
        try:
            return fn(float(x))
        except ValueError:
            return None

    return call


MATH_FUNCTIONS: dict[str, Callable[..., float | None]] = {
    "acos": _unary(math.acos),
    "cos": _unary(math.cos),
    "sin": _unary(math.sin),
    "radians": _unary(math.radians),
}


def _has_function(conn: apsw.Connection, name: str) -> bool:
    try:
        conn.execute(f"SELECT {name}(0)").fetchall()
        return True
    except apsw.SQLError:
        return False


def register_sql_functions(conn: apsw.Connection) -> None:
    for name, fn in MATH_FUNCTIONS.items():
        if not _has_function(conn, name):
            conn.create_scalar_function(name, fn, 1, deterministic=True)

"""POST /api/sql: PocketBase 0.39's SQL console (superusers only).

A query that reads runs on a reader connection under `PRAGMA query_only`; one that writes runs
through the store's single writer, in one transaction (so a multi-statement write is all or
nothing, and the write path stays the only writer of data.db). Like PocketBase, the result is
the last statement's: at most 1000 rows, every value as text (Go's formatting for numbers) or
null. Transaction control and ATTACH/DETACH are refused: they would break the pooled
connections the app shares.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import apsw
from litestar import Request, Response, post

from core.api._helpers import read_json_object
from core.api.common import core_app, json_response, require_superuser
from core.app import App
from core.errors import ApiError
from core.store.db import WriteContext

MAX_ROWS = 1000
MAX_QUERY_LENGTH = 5000
# PocketBase's knownWriteQueryPrefixes; anything else is tried as a read first
WRITE_PREFIXES = ("INSERT", "CREATE", "UPDATE", "DELETE", "DROP", "DETACH")
DENIED = frozenset({apsw.SQLITE_TRANSACTION, apsw.SQLITE_SAVEPOINT, apsw.SQLITE_ATTACH, apsw.SQLITE_DETACH})
# sqlite3_errstr() of the primary result codes: PocketBase's driver prefixes its errors with it
ERRSTR = {
    1: "SQL logic error",
    3: "access permission denied",
    4: "query aborted",
    5: "database is locked",
    6: "database table is locked",
    7: "out of memory",
    8: "attempt to write a readonly database",
    9: "interrupted",
    10: "disk I/O error",
    11: "database disk image is malformed",
    13: "database or disk is full",
    14: "unable to open database file",
    17: "database schema has changed",
    18: "string or blob too big",
    19: "constraint failed",
    20: "datatype mismatch",
    21: "bad parameter or other API misuse",
    23: "authorization denied",
    25: "column index out of range",
    26: "file is not a database",
}


@dataclass
class Result:
    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    affected: int = 0


# under --ha: a replica derives its tables from `_collections` rows and applies row changes;
# DDL run here would exist on this node only
SCHEMA_OPS = frozenset(
    getattr(apsw, f"SQLITE_{kind}_{thing}")
    for kind in ("CREATE", "DROP")
    for thing in (
        "INDEX",
        "TABLE",
        "TRIGGER",
        "VIEW",
        "TEMP_INDEX",
        "TEMP_TABLE",
        "TEMP_TRIGGER",
        "TEMP_VIEW",
        "VTABLE",
    )
) | {apsw.SQLITE_ALTER_TABLE}
NOT_REPLICATED = (
    "Schema changes through SQL are not replicated under --ha; change collections through their API."
)


def _authorizer(op: int, *_args: Any) -> int:
    return apsw.SQLITE_DENY if op in DENIED else apsw.SQLITE_OK


def go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64): the shortest digits; an exponent from 1e6 or below 1e-4."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits)) or "0"
    point = len(text) + int(exponent)  # decimal point position within `text`
    exp10 = point - 1
    prefix = "-" if sign else ""
    if value == 0:
        return prefix + "0"
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def run_query(conn: apsw.Connection, query: str, authorizer: Any = _authorizer) -> Result:
    """Execute every statement; keep the last one's columns and (first 1000) rows."""
    result = Result()
    cursor = conn.cursor()

    def on_statement(cur: apsw.Cursor, _sql: str, _bindings: Any) -> bool:
        result.rows = []
        result.columns = [
            {"name": name, "type": (decltype or "").upper(), "nullable": True}
            for name, decltype in cur.getdescription()
        ]
        return True

    cursor.exec_trace = on_statement
    conn.authorizer = authorizer
    try:
        for row in cursor.execute(query):
            if len(result.rows) >= MAX_ROWS:
                break
            result.rows.append([as_text(v) for v in row])
    finally:
        conn.authorizer = None
        cursor.close()
    return result


def _read(conn: apsw.Connection, query: str) -> Result:
    conn.execute("PRAGMA query_only = 1")
    try:
        return run_query(conn, query)
    finally:
        conn.execute("PRAGMA query_only = 0")


async def execute(app: App, query: str) -> Result:
    is_write = query.upper().startswith(WRITE_PREFIXES)
    if not is_write:
        try:
            return await app.store.db.read(lambda conn: _read(conn, query))
        except apsw.ReadOnlyError:
            pass  # it writes after all (REPLACE, ALTER, WITH ... INSERT, PRAGMA x = y): go to the writer

    replicated = app.services.get("ha") is not None

    def op(ctx: WriteContext) -> Result:
        refused: list[int] = []

        def authorizer(code: int, *_args: Any) -> int:
            if replicated and code in SCHEMA_OPS:
                refused.append(code)
                return apsw.SQLITE_DENY
            return _authorizer(code)

        try:
            result = run_query(ctx.conn, query, authorizer)
        except apsw.AuthError:
            if refused:
                raise ApiError(400, NOT_REPLICATED) from None
            raise
        result.affected = ctx.conn.changes()
        result.columns, result.rows = [], []
        # the query may have touched collections or settings: reload both after the commit
        ctx.tags["collections_changed"] = True
        ctx.tags["settings_changed"] = True
        ctx.after_commit.append(lambda: app.store.registry.load(ctx.conn))
        ctx.after_commit.append(lambda: app.store.settings.load(ctx.conn))
        return result

    return await app.store.db.write(op)


@post("/api/sql", status_code=200)
async def sql_run(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    body = await read_json_object(request)
    query = body.get("query", "")
    if not isinstance(query, str):
        raise ApiError(400, "An error occurred while loading the submitted data.")
    if not query:
        raise ApiError(
            400,
            "An error occurred while validating the submitted data.",
            {"query": {"code": "validation_required", "message": "Cannot be blank."}},
        )
    if len(query) > MAX_QUERY_LENGTH:
        raise ApiError(
            400,
            "An error occurred while validating the submitted data.",
            {
                "query": {
                    "code": "validation_length_too_long",
                    "message": f"The length must be no more than {MAX_QUERY_LENGTH}.",
                    "params": {"max": MAX_QUERY_LENGTH, "min": 0},
                }
            },
        )
    query = query.strip()
    if not query:
        raise ApiError(400, "Failed to execute query. Raw error:\nempty query.")
    started = time.perf_counter()
    try:
        result = await execute(core_app(request), query)
    except apsw.Error as e:
        raise ApiError(400, f"Failed to execute query. Raw error:\n{raw_error(e)}") from None
    return json_response(
        {
            "execTime": int((time.perf_counter() - started) * 1000),
            "affectedRows": result.affected,
            "columns": result.columns,
            "rows": result.rows,
        }
    )


def raw_error(e: apsw.Error) -> str:
    """The error as PocketBase's SQLite driver words it: `SQL logic error: no such table: x (1).`"""
    code = int(getattr(e, "extendedresult", 0) or getattr(e, "result", 0) or 1)
    text = f"{ERRSTR.get(code & 0xFF, 'unknown error')}: {e} ({code})"
    return text if text.endswith(".") else text + "."


routes = [sql_run]

"""The `_logs` table of auxiliary.db: schema, batch inserts, list/view/stats, cleanup.

The table and its indexes are PocketBase's own (same DDL), so an auxiliary.db moves between
core and PocketBase through a backup. The database has its own `Database` (one writer thread,
reader pool): log traffic never queues behind record writes in data.db.

Filters and sorts go through core's filter compiler over PocketBase's list of log fields: id,
created, level, message, data and `data.*` json paths (`data.status >= 400`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import apsw
import msgspec

from core.errors import ApiError
from core.store.db import Database, WriteContext
from core.store.filter import simple_context
from core.store.record_query import ListParams, search_table, where_clause
from core.store.record_view import fetch_dicts

TABLE = "_logs"
SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS `{TABLE}` (
    `id`      TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL,
    `level`   INTEGER DEFAULT 0 NOT NULL,
    `message` TEXT DEFAULT "" NOT NULL,
    `data`    JSON DEFAULT "{{}}" NOT NULL,
    `created` TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL
)""",
    f"CREATE INDEX IF NOT EXISTS idx_logs_level on `{TABLE}` (`level`)",
    f"CREATE INDEX IF NOT EXISTS idx_logs_message on `{TABLE}` (`message`)",
    f"CREATE INDEX IF NOT EXISTS idx_logs_created_hour on `{TABLE}` (strftime('%Y-%m-%d %H:00:00', `created`))",
)
ALIAS = "`_logs`"
# sorted keys like Go's encoding/json of a map; msgspec is ~10x cheaper than json.dumps per log
_data_encoder = msgspec.json.Encoder(order="sorted")
# `->` keeps `data` as (minified) JSON text, `->>` gives the SQL text/integer values
_INSERT_BATCH = f"""INSERT OR IGNORE INTO `{TABLE}` (id, level, message, data, created)
SELECT value->>0, value->>1, value->>2, value->'$[3]', value->>4 FROM json_each(?)"""

# what ?filter= and ?sort= may name (PocketBase's logFilterFields, apis/logs.go)
LOG_FILTER_FIELDS = ("id", "created", "level", "message", "data", r"^data\.[\w\.\:]*\w+$")
_FILTER_CONTEXT = simple_context(ALIAS, LOG_FILTER_FIELDS)


def log_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row as PocketBase serializes a log (key order included; there is no `updated`)."""
    try:
        data = json.loads(row["data"]) if row["data"] else {}
    except ValueError:
        data = {}
    return {
        "id": row["id"],
        "created": row["created"],
        "data": data,
        "message": row["message"],
        "level": row["level"],
    }


class LogsDB:
    def __init__(self, path: Path, readers: int = 2) -> None:
        self.path = path
        self.db = Database(path, readers=readers, changesets=False)

    def open(self) -> None:
        self.db.open()
        self.db.write_sync(self._create_schema)

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def _create_schema(ctx: WriteContext) -> None:
        for statement in SCHEMA:
            ctx.conn.execute(statement)

    # -- writes ----------------------------------------------------------------------------
    def insert_sync(self, entries: Iterable[dict[str, Any]]) -> None:
        # One statement for the whole batch: msgspec encodes it in C and SQLite unpacks it with
        # json_each, so the GIL is held about 0.5 us per log instead of 3-4 us with executemany,
        # and released once per batch rather than once per row (the request path competes for it).
        payload = _data_encoder.encode(
            [(e["id"], e["level"], e["message"], e["data"], e["created"]) for e in entries]
        )
        if payload == b"[]":
            return

        def op(ctx: WriteContext) -> None:
            ctx.conn.execute(_INSERT_BATCH, (payload,))

        self.db.write_sync(op)

    def delete_sync(self, created_before: str | None = None, below_level: int | None = None) -> int:
        """Delete logs created at/before a datetime or below a level (None = every log)."""

        def op(ctx: WriteContext) -> int:
            if created_before is None and below_level is None:
                ctx.conn.execute(f"DELETE FROM `{TABLE}`")
            else:
                ctx.conn.execute(
                    f"DELETE FROM `{TABLE}` WHERE created <= ? OR level < ?",
                    (created_before or "", below_level if below_level is not None else -(2**62)),
                )
            return int(ctx.conn.changes())

        return self.db.write_sync(op)

    def vacuum_sync(self) -> None:
        # VACUUM cannot run inside the writer's transaction: use a short-lived connection
        conn = apsw.Connection(str(self.path))
        try:
            conn.setbusytimeout(10000)
            conn.execute("VACUUM")
        finally:
            conn.close()

    # -- reads -----------------------------------------------------------------------------
    async def search(self, params: ListParams) -> dict[str, Any]:
        def q(conn: apsw.Connection) -> dict[str, Any]:
            rows, meta = search_table(conn, f"`{TABLE}` AS {ALIAS}", _FILTER_CONTEXT, params)
            return {"items": [log_json(r) for r in rows], **meta}

        return await self.db.read(q)

    async def view(self, log_id: str) -> dict[str, Any] | None:
        def q(conn: apsw.Connection) -> dict[str, Any] | None:
            rows = fetch_dicts(conn, f"SELECT * FROM `{TABLE}` WHERE id = ? LIMIT 1", (log_id,))
            return log_json(rows[0]) if rows else None

        return await self.db.read(q)

    async def stats(self, flt: str) -> list[dict[str, Any]]:
        """Totals per hour, oldest first (PocketBase's LogsStats)."""
        try:
            where, args = where_clause(flt, _FILTER_CONTEXT)
        except ApiError:
            raise ApiError(400, "Invalid filter format.") from None

        def q(conn: apsw.Connection) -> list[dict[str, Any]]:
            try:
                rows = conn.execute(
                    f"SELECT strftime('%Y-%m-%d %H:00:00', created) AS date, count(id) AS total "
                    f"FROM `{TABLE}` AS {ALIAS}{where} GROUP BY date ORDER BY date",
                    args,
                ).fetchall()
            except apsw.SQLError:  # a filter SQLite rejects while running, e.g. `data..k > 0`
                raise ApiError(400, "Failed to generate logs stats.") from None
            return [{"date": f"{date}.000Z", "total": total} for date, total in rows if date]

        return await self.db.read(q)


class LogMatcher:
    """A `?filter=` of /api/logs applied to log items outside the database (`core logs tail`):
    the same compiler over an in-memory `_logs` table, so a filter means the same in both."""

    def __init__(self, flt: str) -> None:
        try:
            where, self._args = where_clause(flt, _FILTER_CONTEXT)
        except ApiError:
            raise ValueError(
                f"{flt!r} is not a logs filter (it may name id, created, level, message, data.*)"
            ) from None
        self._conn = apsw.Connection(":memory:")
        self._conn.execute(SCHEMA[0])
        self._query = f"SELECT count(*) FROM `{TABLE}` AS {ALIAS}{where}"

    def __call__(self, item: dict[str, Any]) -> bool:
        self._conn.execute(f"DELETE FROM `{TABLE}`")
        self._conn.execute(
            f"INSERT INTO `{TABLE}` (id, level, message, data, created) VALUES (?, ?, ?, ?, ?)",
            (
                str(item.get("id", "")),
                int(item.get("level", 0)),
                str(item.get("message", "")),
                _data_encoder.encode(item.get("data") or {}).decode(),
                str(item.get("created", "")),
            ),
        )
        try:
            row = self._conn.execute(self._query, self._args).fetchone()
        except apsw.SQLError:
            return False
        return bool(row and row[0])

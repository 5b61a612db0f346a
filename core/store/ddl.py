"""DDL derived from collection definitions.

Schema changes travel as `_collections` rows; every node derives its tables and indexes from
those rows with this code, so no SQL text is ever replayed (the HA design). Everything here is
deterministic for a given (old, new) pair of collections.
"""

from __future__ import annotations

import re

import apsw

from core.store.fields import field_type
from core.store.schema import Collection, Field

INTERNAL_TABLES_SQL = (
    """CREATE TABLE IF NOT EXISTS `_collections` (
        `id` TEXT PRIMARY KEY NOT NULL,
        `system` BOOLEAN DEFAULT FALSE NOT NULL,
        `type` TEXT DEFAULT 'base' NOT NULL,
        `name` TEXT UNIQUE NOT NULL COLLATE NOCASE,
        `fields` JSON DEFAULT '[]' NOT NULL,
        `indexes` JSON DEFAULT '[]' NOT NULL,
        `listRule` TEXT DEFAULT NULL,
        `viewRule` TEXT DEFAULT NULL,
        `createRule` TEXT DEFAULT NULL,
        `updateRule` TEXT DEFAULT NULL,
        `deleteRule` TEXT DEFAULT NULL,
        `options` JSON DEFAULT '{}' NOT NULL,
        `created` TEXT DEFAULT '' NOT NULL,
        `updated` TEXT DEFAULT '' NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS `_params` (
        `id` TEXT PRIMARY KEY NOT NULL,
        `value` JSON DEFAULT NULL,
        `created` TEXT DEFAULT '' NOT NULL,
        `updated` TEXT DEFAULT '' NOT NULL
    )""",
)


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def column_definition(f: Field) -> str:
    if f.name == "id":
        return "`id` TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL"
    return field_type(f.type).column_definition(f)


def create_table_sql(col: Collection) -> str:
    cols = ", ".join(column_definition(f) for f in col.fields)
    return f"CREATE TABLE {quote(col.name)} ({cols})"


INDEX_RE = re.compile(
    r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(IF\s+NOT\s+EXISTS\s+)?[`\"\[]?(\w+)[`\"\]]?\s+ON\s+"
    r"[`\"\[]?(\w*)[`\"\]]?\s*\((.+?)\)\s*(WHERE\s+(.+))?;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


class IndexDef:
    def __init__(self, unique: bool, name: str, table: str, columns: str, where: str | None):
        self.unique = unique
        self.name = name
        self.table = table
        self.columns = columns
        self.where = where

    def sql(self, table: str) -> str:
        unique = "UNIQUE " if self.unique else ""
        where = f" WHERE {self.where}" if self.where else ""
        return f"CREATE {unique}INDEX {quote(self.name)} ON {quote(table)} ({self.columns}){where}"


def parse_index(sql: str) -> IndexDef | None:
    m = INDEX_RE.match(sql)
    if not m:
        return None
    if ";" in (m.group(5) + (m.group(7) or "")):
        return None
    return IndexDef(
        bool(m.group(1)), m.group(3), m.group(4), m.group(5).strip(), (m.group(7) or "").strip() or None
    )


def drop_indexes(conn: apsw.Connection, table: str) -> None:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL", (table,)
    ).fetchall()
    for (name,) in rows:
        conn.execute(f"DROP INDEX IF EXISTS {quote(str(name))}")


def create_indexes(conn: apsw.Connection, col: Collection) -> None:
    for raw in col.indexes:
        idx = parse_index(raw)
        if idx is None:
            raise ValueError(f"invalid index: {raw}")
        conn.execute(idx.sql(col.name))


def table_columns(conn: apsw.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")]


def table_exists(conn: apsw.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name=?", (name,)
    ).fetchone()
    return row is not None


def sync_schema(conn: apsw.Connection, old: Collection | None, new: Collection | None) -> None:
    """Bring the record table (or view) from `old` to `new`; either side may be None."""
    if new is None:
        if old is not None:
            kind = "VIEW" if old.is_view else "TABLE"
            conn.execute(f"DROP {kind} IF EXISTS {quote(old.name)}")
        return
    if new.is_view:
        if old is not None:
            kind = "VIEW" if old.is_view else "TABLE"
            conn.execute(f"DROP {kind} IF EXISTS {quote(old.name)}")
        conn.execute(f"CREATE VIEW {quote(new.name)} AS {new.viewQuery}")
        return
    if old is None or old.is_view:
        if old is not None:
            conn.execute(f"DROP VIEW IF EXISTS {quote(old.name)}")
        conn.execute(create_table_sql(new))
        create_indexes(conn, new)
        return

    drop_indexes(conn, old.name)
    if old.name != new.name:
        conn.execute(f"ALTER TABLE {quote(old.name)} RENAME TO {quote(new.name)}")
    table = new.name
    old_by_id = {f.id: f for f in old.fields}
    new_ids = {f.id for f in new.fields}
    # drop first, so that a new field may reuse a removed field's name
    for f in old.fields:
        if f.id not in new_ids:
            conn.execute(f"ALTER TABLE {quote(table)} DROP COLUMN {quote(f.name)}")
    for f in new.fields:
        prev = old_by_id.get(f.id)
        if prev is None:
            conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {column_definition(f)}")
            continue
        if prev.name != f.name:
            conn.execute(f"ALTER TABLE {quote(table)} RENAME COLUMN {quote(prev.name)} TO {quote(f.name)}")
        if prev.type != f.type or prev.is_multi != f.is_multi:
            _convert_column(conn, table, prev, f)
    create_indexes(conn, new)


def _convert_column(conn: apsw.Connection, table: str, prev: Field, new: Field) -> None:
    """Change a column's storage (e.g. single -> multi select) keeping the values it can."""
    tmp = f"_tmp_{new.name}"
    conn.execute(f"ALTER TABLE {quote(table)} RENAME COLUMN {quote(new.name)} TO {quote(tmp)}")
    conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {column_definition(new)}")
    c_new, c_tmp = quote(new.name), quote(tmp)
    if prev.is_multi and not new.is_multi:
        # keep the last item, as PocketBase does when maxSelect drops to 1
        expr = f"COALESCE(json_extract({c_tmp}, '$[#-1]'), '')"
        conn.execute(f"UPDATE {quote(table)} SET {c_new} = {expr} WHERE json_valid({c_tmp})")
    elif new.is_multi and not prev.is_multi:
        conn.execute(
            f"UPDATE {quote(table)} SET {c_new} = CASE WHEN {c_tmp} = '' OR {c_tmp} IS NULL THEN '[]' "
            f"ELSE json_array({c_tmp}) END"
        )
    elif prev.type == new.type:
        conn.execute(f"UPDATE {quote(table)} SET {c_new} = {c_tmp}")
    conn.execute(f"ALTER TABLE {quote(table)} DROP COLUMN {c_tmp}")

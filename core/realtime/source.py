"""Record events derived from the store's change stream: one `Database` listener.

Each committed changeset is read with `apsw.Changeset.iter`: inserts carry the new row and
deletes the full before-image. Updates carry only the changed columns, so their full
after-image is read right after the commit, on the writer thread, where no later write can have
landed yet. The events are then published on the bus; every process delivers them to its own
SSE clients. A node that applies a replicated changeset fires the same listener, so it derives
the same events from the same bytes.

Known differences from PocketBase, inherent to changesets: a row created and deleted in one
transaction produces no event; several changes to one row in one transaction produce one event
with the final state; an update that changes no value produces none.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import apsw

from core.realtime.events import CREATE, DELETE, UPDATE, RecordEvent, encode
from core.store.collections import Registry
from core.store.db import Change, Database, open_connection
from core.store.ddl import quote
from core.store.record_view import fetch_dicts

log = logging.getLogger("core.realtime")

Publish = Callable[[bytes], None]


class ChangeSource:
    """Turns committed changesets into published record events (runs on the writer thread)."""

    def __init__(
        self, db: Database, registry: Registry, publish: Publish, wanted: Callable[[], bool] = lambda: True
    ) -> None:
        self.db = db
        self.registry = registry
        self.publish = publish
        # False when nobody could receive an event (no SSE client here, no other process):
        # writes then skip the derivation and the hop to the event loop
        self.wanted = wanted
        # our own connection, used only on the writer thread right after a commit
        self._conn: apsw.Connection | None = None
        self._lock = threading.Lock()  # detach() must not close the connection mid-read
        self._detached = False
        self._columns: dict[str, list[str]] = {}
        self._schema_version = -1

    def attach(self) -> None:
        self.db.listeners.append(self)

    def detach(self) -> None:
        if self in self.db.listeners:
            self.db.listeners.remove(self)
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._detached = True

    def __call__(self, change: Change) -> None:
        if not change.changeset or not self.wanted():
            return
        with self._lock:
            if self._detached:
                return
            events = self.derive(change)
        if events:
            self.emit(change, events)

    def emit(self, change: Change, events: list[RecordEvent]) -> None:
        """Hand the events of one commit on (record events for other services override this)."""
        for message in encode(events):
            self.publish(message)

    def derive(self, change: Change) -> list[RecordEvent]:
        conn = self._connection()
        with conn:  # one read snapshot: the state this commit produced
            self._check_schema(conn)
            events = self._events(conn, change.changeset)
        return _in_write_order(events, change.tags.get("records"))

    # -- internals -------------------------------------------------------------------------
    def _connection(self) -> apsw.Connection:
        if self._conn is None:
            self._conn = open_connection(self.db.path)
        return self._conn

    def _check_schema(self, conn: apsw.Connection) -> None:
        row = conn.execute("PRAGMA schema_version").fetchone()
        version = int(row[0]) if row else -1
        if version != self._schema_version:
            self._columns.clear()
            self._schema_version = version

    def _table_columns(self, conn: apsw.Connection, table: str) -> list[str]:
        columns = self._columns.get(table)
        if columns is None:
            # the physical column order, which ALTER TABLE may have made differ from the fields'
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")]
            self._columns[table] = columns
        return columns

    def _events(self, conn: apsw.Connection, changeset: bytes) -> list[RecordEvent]:
        events: list[RecordEvent] = []
        updated: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}  # table -> (col id, pk, changed)
        for change in apsw.Changeset.iter(changeset):
            table = change.name
            col = self.registry.find(table)
            if col is None or col.is_view or col.name.lower() != table.lower():
                continue  # not a record table (_collections, _params, ...)
            columns = self._table_columns(conn, table)
            if len(columns) != change.column_count:
                log.warning(
                    "realtime: %s has %d columns, its change %d", table, len(columns), change.column_count
                )
                continue
            if change.op == "INSERT":
                events.append(RecordEvent(CREATE, col.id, dict(zip(columns, change.new or (), strict=True))))
            elif change.op == "DELETE":
                events.append(RecordEvent(DELETE, col.id, dict(zip(columns, change.old or (), strict=True))))
            elif change.op == "UPDATE":
                old, new = change.old or (), change.new or ()
                pk = str(old[columns.index("id")]) if "id" in columns else ""
                changed = tuple(c for c, v in zip(columns, new, strict=True) if v is not apsw.no_change)
                updated.setdefault(table, []).append((col.id, pk, changed))
                events.append(RecordEvent(UPDATE, col.id, {"id": pk}, changed))  # row filled below
        if updated:
            rows = self._after_images(conn, updated)
            events = [
                RecordEvent(e.action, e.collection_id, rows[(e.collection_id, e.record_id)], e.changed)
                if e.action == UPDATE
                else e
                for e in events
                if e.action != UPDATE or (e.collection_id, e.record_id) in rows
            ]
        return events

    def _after_images(
        self, conn: apsw.Connection, updated: dict[str, list[tuple[str, str, tuple[str, ...]]]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for table, items in updated.items():
            ids = [pk for _, pk, _ in items]
            col_id = items[0][0]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in fetch_dicts(conn, f"SELECT * FROM {quote(table)} WHERE `id` IN ({marks})", chunk):
                    rows[(col_id, str(row["id"]))] = row
        return rows


def _in_write_order(events: list[RecordEvent], records: Any) -> list[RecordEvent]:
    """A changeset groups rows by table in hash order; the writer's own notes, when this process
    made the change, give the order the writes happened in (a batch, a cascade)."""
    if not records or len(events) < 2:
        return events
    order: dict[tuple[str, str], int] = {}
    for i, item in enumerate(records):
        order.setdefault((str(item[1]), str(item[2])), i)
    last = len(order)
    return sorted(events, key=lambda e: order.get((e.collection_id, e.record_id), last))

"""The state machine of `--ha`: applies changelog entries to `data.db`, in stream order.

The shape of rqlite's FSM: this module knows nothing of NATS; whoever reads the stream hands it
(sequence, payload) pairs, and a test can feed it entries straight from a list.

Why it is built this way:
- `data.db` is a pure function of the log prefix it has applied: the applied sequence is stored
  in `data.db`, in the same transaction as the changes its entry brought, so no crash can leave
  one without the other, and a redelivered message (sequence <= applied) is recognised and left
  alone instead of being applied twice;
- every node applies every entry, its own included (skipping one's own entries is how go-ha
  diverges when two nodes write the same row);
- in serializable mode an entry was made on exactly the state the previous entries produce, so
  any conflict while applying it means this node has diverged: it stops (`ApplyError`), it never
  skips a real entry. In last-writer-wins mode conflicts are expected and resolved the same way on
  every node, because every node sees the entries in the same order;
- a schema entry carries `_collections` row changes, not SQL text: the tables, columns and
  indexes are derived from the old and new collection with `core.store.ddl.sync_schema`, the same
  code the writing node ran, and the data changes of the tables it rebuilt are derived with them.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw

from core.ha.entry import Entry, NotAnEntry, UnreadableEntry, decode
from core.store import ddl
from core.store.collections import SELECT_COLLECTIONS, row_to_collection
from core.store.db import Change
from core.store.schema import Collection

STATE_TABLE = "_ha_state"
STATE_SQL = f"""CREATE TABLE IF NOT EXISTS `{STATE_TABLE}` (
    `id` INTEGER PRIMARY KEY CHECK (`id` = 1),
    `stream` TEXT NOT NULL,
    `seq` INTEGER NOT NULL,
    `skipped` INTEGER NOT NULL DEFAULT 0
)"""
COLLECTIONS_TABLE = "_collections"


class Mode(enum.Enum):
    SERIALIZABLE = "serializable"
    LAST_WRITER_WINS = "last-writer-wins"


class ApplyError(Exception):
    """A real entry could not be applied: this node must stop applying and say why."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"changelog entry {seq}: {reason}")
        self.seq = seq
        self.reason = reason


@dataclass
class Applied:
    """What applying one message did."""

    seq: int
    entry: Entry | None  # None: the message was not a core entry and was skipped
    change: Change | None  # for the commit hooks and listeners (caches, realtime)
    conflicts: Counter[str] = field(default_factory=Counter)  # per table, last-writer-wins only


@dataclass(frozen=True)
class State:
    stream: str
    seq: int
    skipped: int


def ensure_state_table(conn: apsw.Connection) -> None:
    conn.execute(STATE_SQL)


def read_state(conn: apsw.Connection) -> State | None:
    """The stream this database derives from and the last sequence applied; None: not derived yet."""
    if not ddl.table_exists(conn, STATE_TABLE):
        return None
    row = conn.execute(f"SELECT `stream`, `seq`, `skipped` FROM `{STATE_TABLE}` WHERE `id` = 1").fetchone()
    return None if row is None else State(str(row[0]), int(row[1]), int(row[2]))


def file_state(data_db: Path) -> State | None:
    """The stream state of a database file nobody has open (None: none, or no such file)."""
    if not data_db.exists() or data_db.stat().st_size == 0:
        return None
    conn = apsw.Connection(str(data_db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return read_state(conn)
    finally:
        conn.close()


def refuse_offline_writes(data_db: Path, what: str) -> None:
    """Offline tools must not change a database that follows a stream: the change would exist on
    this node only, and `data.db` would no longer be what the log gives."""
    if file_state(data_db) is not None:
        from core.config import ConfigError

        raise ConfigError(
            f"--dir: {data_db} follows a --ha stream; {what} would change this node only. "
            "Do it through a running node instead"
        )


def start_state(conn: apsw.Connection, stream: str, seq: int) -> None:
    """Mark this database as the state of `stream` after `seq` (a new stream's first node, a snapshot)."""
    ensure_state_table(conn)
    conn.execute(
        f"INSERT INTO `{STATE_TABLE}` (`id`, `stream`, `seq`) VALUES (1, ?, ?) "
        "ON CONFLICT(`id`) DO UPDATE SET `stream` = excluded.`stream`, `seq` = excluded.`seq`",
        (stream, seq),
    )


# replaces the database with a backup restore's data as the state after `seq` (core/ha/restore.py);
# returns the tags of the change
Restore = Callable[[apsw.Connection, int, str], dict[str, Any]]


class Applier:
    def __init__(
        self, conn: apsw.Connection, mode: Mode = Mode.SERIALIZABLE, restore: Restore | None = None
    ) -> None:
        self.conn = conn
        self.mode = mode
        self.restore = restore

    def state(self) -> State | None:
        return read_state(self.conn)

    def apply(self, seq: int, payload: bytes) -> Applied | None:
        """Apply the message at `seq`; None if it was applied before (a redelivery).

        Raises ApplyError for a real entry that cannot be applied, and for a gap (the caller
        skipped a message: applying past it would diverge).
        """
        state = self.state()
        if state is None:
            raise ApplyError(seq, "this database is not derived from a changelog (no state)")
        if seq <= state.seq:
            return None
        if seq != state.seq + 1:
            raise ApplyError(seq, f"a gap in the log: the last applied entry is {state.seq}")
        try:
            entry = decode(payload)
        except NotAnEntry:
            with self.conn:
                self.conn.execute(
                    f"UPDATE `{STATE_TABLE}` SET `seq` = ?, `skipped` = `skipped` + 1 WHERE `id` = 1", (seq,)
                )
            return Applied(seq, None, None)
        except UnreadableEntry as exc:
            raise ApplyError(seq, str(exc)) from None
        if entry.restore:
            if self.restore is None:
                raise ApplyError(seq, "a backup restore entry, and no way to fetch its data here")
            return Applied(seq, entry, Change(b"", self.restore(self.conn, seq, entry.restore)))
        conflicts: Counter[str] = Counter()
        try:
            with self.conn:  # one transaction: the changes and the sequence they bring us to
                if entry.schema:
                    self._apply_schema(seq, entry, conflicts)
                else:
                    self._apply_changes(seq, entry.changeset, conflicts)
                self.conn.execute(f"UPDATE `{STATE_TABLE}` SET `seq` = ? WHERE `id` = 1", (seq,))
        except apsw.FullError:
            raise  # not this entry's fault: applying it again works once space is freed
        except apsw.Error as exc:
            raise ApplyError(seq, f"{type(exc).__name__}: {exc}") from None
        tags = dict(entry.tags)
        # where the change came from, for listeners that act once per change cluster-wide
        tags["ha_seq"], tags["ha_node"] = seq, entry.node
        if entry.schema:
            tags["collections_changed"] = True
        return Applied(seq, entry, Change(entry.changeset, tags), conflicts)

    # -- internals -------------------------------------------------------------------------
    def _apply_changes(
        self, seq: int, changeset: bytes, conflicts: Counter[str], skip: frozenset[str] = frozenset()
    ) -> None:
        if not changeset:
            return
        divergence: list[str] = []

        def on_conflict(reason: int, change: apsw.TableChange) -> int:
            if self.mode is Mode.SERIALIZABLE:
                divergence.append(f"{_REASONS.get(reason, reason)} on {change.name} {change.op}")
                return apsw.SQLITE_CHANGESET_ABORT
            conflicts[change.name] += 1
            if reason in (apsw.SQLITE_CHANGESET_DATA, apsw.SQLITE_CHANGESET_CONFLICT):
                return apsw.SQLITE_CHANGESET_REPLACE  # the later entry in stream order wins
            return apsw.SQLITE_CHANGESET_OMIT  # the row is gone, or a constraint an earlier entry holds

        try:
            apsw.Changeset.apply(
                changeset, self.conn, filter=lambda table: _replicated(table, skip), conflict=on_conflict
            )
        except apsw.AbortError:
            raise ApplyError(seq, "diverged: " + "; ".join(divergence or ["aborted"])) from None

    def _apply_schema(self, seq: int, entry: Entry, conflicts: Counter[str]) -> None:
        ids = _collection_ids(entry.changeset)
        before = self._collections(ids)
        others = frozenset(c.name for c in apsw.Changeset.iter(entry.changeset)) - {COLLECTIONS_TABLE}
        self._apply_changes(seq, entry.changeset, conflicts, skip=others)
        after = self._collections(ids)
        pairs = [(before.get(cid), after.get(cid)) for cid in ids]
        # tables before views: a view may select from a table this entry creates
        pairs.sort(key=lambda pair: any(c is not None and c.is_view for c in pair))
        rebuilt: set[str] = set()
        for old, new in pairs:
            ddl.sync_schema(self.conn, old, new)
            rebuilt.update(c.name for c in (old, new) if c is not None)
        # the record tables whose schema changed were brought to their new state by sync_schema,
        # as on the writing node; their captured row changes are applied only where they are not
        self._apply_changes(seq, entry.changeset, conflicts, skip=frozenset({COLLECTIONS_TABLE, *rebuilt}))

    def _collections(self, ids: set[str]) -> dict[str, Collection]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        sql = SELECT_COLLECTIONS.rstrip().rstrip(";")
        rows = self.conn.execute(f"SELECT * FROM ({sql}) WHERE id IN ({marks})", tuple(ids))
        return {str(row[0]): row_to_collection(row) for row in rows}


def _replicated(table: str, skip: frozenset[str]) -> bool:
    # sqlite_stat* hold this node's query planner statistics (PRAGMA optimize): not data
    return table not in skip and not table.startswith("sqlite_")


def _collection_ids(changeset: bytes) -> set[str]:
    ids: set[str] = set()
    for change in apsw.Changeset.iter(changeset):
        row = change.new if change.op == "INSERT" else change.old
        if change.name == COLLECTIONS_TABLE and row:
            ids.add(str(row[0]))  # the primary key is always in the image (`id`, the first column)
    return ids


_REASONS: dict[int, Any] = {
    apsw.SQLITE_CHANGESET_DATA: "data conflict",
    apsw.SQLITE_CHANGESET_NOTFOUND: "row not found",
    apsw.SQLITE_CHANGESET_CONFLICT: "row exists",
    apsw.SQLITE_CHANGESET_CONSTRAINT: "constraint",
    apsw.SQLITE_CHANGESET_FOREIGN_KEY: "foreign key",
}

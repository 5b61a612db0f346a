"""Who may see a record event, and what each subscriber receives.

Subscriptions that share an auth, a rule and options get the same answer, so each such group is
checked and serialized once (a thousand guests on `posts/*` cost one check). The rule is
evaluated over the event's own row image, put in a TEMP table shaped like the collection's
table: the compiled rule SQL runs unchanged (same alias, same column affinities as the real
table), a deleted record is judged by its before-image, and a record changed again since is
judged as it was when this event happened. Relations in the rule still join the live tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import apsw
import msgspec

from core.errors import ApiError
from core.realtime.client import Client
from core.realtime.events import RecordEvent
from core.realtime.topics import Subscription
from core.store.ddl import quote
from core.store.filter import SQL, FilterError, check_client_expression, compile_filter
from core.store.record_query import Finder, expand_into, parse_expand
from core.store.record_view import FieldsSpec, serialize
from core.store.request import Auth, RequestContext
from core.store.rules import ALIAS, filter_context, rule_sql
from core.store.schema import Collection

_encoder = msgspec.json.Encoder()
log = logging.getLogger("core.realtime")


@dataclass
class Group:
    """Subscribers bound to get the same answer; `data` is set when they may see the event."""

    req: RequestContext
    rule_name: str  # listRule for `c/*` and `c`, viewRule for `c/id`
    targets: list[tuple[Client, bytes]] = field(default_factory=list)  # (client, event name)
    data: bytes | None = None


def new_group(auth: Auth | None, sub: Subscription, rule_name: str) -> Group:
    """An empty group for subscribers with this auth and `sub`'s options."""
    req = RequestContext(
        auth=auth, query=dict(sub.query), headers=dict(sub.headers), method="GET", context="realtime"
    )
    return Group(req, rule_name)


def needs_db(col: Collection, groups: list[Group]) -> bool:
    """False when every group can be answered without SQL (public or superuser, no options)."""
    for g in groups:
        q = g.req.query
        if q.get("expand", "").strip() or q.get("filter", ""):
            return True
        if g.req.is_superuser:
            continue
        rule = col.rule(g.rule_name)
        if rule is not None and rule.strip():
            return True
        if col.is_auth and g.req.auth is not None and (col.rule("manageRule") or "").strip():
            return True
    return False


def render(
    conn: apsw.Connection | None, col: Collection, event: RecordEvent, groups: list[Group], find: Finder
) -> None:
    """Fill `data` of every group allowed to see the event (`conn` may be None: see needs_db)."""
    if conn is None:
        for g in groups:
            _render_safely(None, None, col, event, g, find)
        return
    with _probe(conn, col, event.row) as probe:
        for g in groups:
            _render_safely(conn, probe, col, event, g, find)


def _render_safely(
    conn: apsw.Connection | None,
    probe: _Probe | None,
    col: Collection,
    event: RecordEvent,
    g: Group,
    find: Finder,
) -> None:
    # a rule or option that fails to run denies this group only, never the other subscribers
    try:
        _render_group(conn, probe, col, event, g, find)
    except (apsw.Error, ApiError, FilterError, ValueError, TypeError):
        log.warning(
            "realtime: %s event of %s not sent to a subscriber group", event.action, col.name, exc_info=True
        )
        g.data = None


def _render_group(
    conn: apsw.Connection | None,
    probe: _Probe | None,
    col: Collection,
    event: RecordEvent,
    g: Group,
    find: Finder,
) -> None:
    if not _allowed(probe, col, g, find):
        return
    req = g.req
    manage: set[str] | None = None
    if col.is_auth and req.auth is not None and not req.is_superuser:
        # the auth collection's manageRule reveals the email like ownership does
        rule = col.rule("manageRule")
        if rule is not None and (
            not rule.strip() or (probe is not None and _passes(probe, col, "manageRule", req, find))
        ):
            manage = {event.record_id}
    item = serialize(col, event.row, req, manage_ids=manage)
    expand = req.query.get("expand", "")
    if conn is not None and expand.strip():
        expand_into(conn, col, [event.row], [item], parse_expand(expand), req.with_context("expand"), find, 1)
    fields = req.query.get("fields", "")
    if fields:
        try:
            spec = FieldsSpec.parse(fields)
        except ApiError:
            spec = None  # PocketBase logs a bad `fields` option and sends the whole record
        if spec is not None:
            item = spec.apply(item)
    g.data = b'{"record":' + _encoder.encode(item) + b',"action":"' + event.action.encode() + b'"}'


def _allowed(probe: _Probe | None, col: Collection, g: Group, find: Finder) -> bool:
    req = g.req
    if not req.is_superuser:
        rule = col.rule(g.rule_name)
        if rule is None:
            return False
        if rule.strip() and (probe is None or not _passes(probe, col, g.rule_name, req, find)):
            return False
    flt = req.query.get("filter", "")
    if not flt:
        return True
    if probe is None:
        return False
    ctx = filter_context(col, req, find, client_filter=True)
    try:
        check_client_expression(flt, ctx)
        return probe.matches(compile_filter(flt, ctx))
    except FilterError:
        return False


def _passes(probe: _Probe, col: Collection, rule_name: str, req: RequestContext, find: Finder) -> bool:
    try:
        sql = rule_sql(col, rule_name, req, find)
    except ApiError:  # a null rule (superusers only) or one that no longer compiles
        return False
    return sql is None or probe.matches(sql)


class _Probe:
    def __init__(self, conn: apsw.Connection, table: str) -> None:
        self.conn = conn
        self.table = table

    def matches(self, sql: SQL) -> bool:
        row = self.conn.execute(
            f"SELECT 1 FROM temp.{self.table} AS {ALIAS} WHERE ({sql.sql}) LIMIT 1", sql.params
        ).fetchone()
        return row is not None


@contextmanager
def _probe(conn: apsw.Connection, col: Collection, row: dict[str, Any]) -> Iterator[_Probe]:
    """The row alone in a per-connection TEMP copy of the collection's table."""
    table = quote("_rt_" + col.id)
    real = [(r[1], _affinity(r[2])) for r in conn.execute(f"PRAGMA main.table_info({quote(col.name)})")]
    mirror = [(r[1], _affinity(r[2])) for r in conn.execute(f"PRAGMA temp.table_info({table})")]
    if mirror != real:  # first use on this connection, or the collection's schema changed
        conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
        # CREATE ... AS SELECT keeps each column's affinity, which comparisons depend on
        conn.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM main.{quote(col.name)} WHERE 0")
    names = [name for name, _ in real if name in row]
    conn.execute(
        f"INSERT INTO temp.{table} ({','.join(quote(n) for n in names)}) VALUES ({','.join('?' * len(names))})",
        [row[n] for n in names],
    )
    try:
        yield _Probe(conn, table)
    finally:
        conn.execute(f"DELETE FROM temp.{table}")


def _affinity(declared: str) -> str:
    """SQLite's affinity rules (section 3.1 of its datatype doc): what a column compares as."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"

"""Superuser management shared by `core superuser ...` and the start-up bootstrap."""

from __future__ import annotations

from core.errors import ApiError
from core.store.db import WriteContext
from core.store.ddl import quote
from core.store.record_query import scalar
from core.store.record_write import RecordWriter
from core.store.request import Auth, RequestContext
from core.store.store import Store

SUPERUSERS = "_superusers"


class SuperuserError(Exception):
    pass


def _system_request(store: Store) -> RequestContext:
    col = store.find(SUPERUSERS)
    assert col is not None
    return RequestContext(auth=Auth(record={"id": ""}, collection=col))


def _describe(e: ApiError) -> str:
    if e.data:
        parts = [f"{k}: {v.get('message', v) if isinstance(v, dict) else v}" for k, v in e.data.items()]
        return f"{e.message} ({'; '.join(parts)})"
    return e.message


def _find_id(ctx: WriteContext, email: str) -> str | None:
    row = ctx.conn.execute(
        f"SELECT id FROM {quote(SUPERUSERS)} WHERE email = ? COLLATE NOCASE", (email,)
    ).fetchone()
    return row[0] if row else None


def upsert(
    store: Store,
    email: str,
    password: str,
    *,
    create_only: bool = False,
    update_only: bool = False,
    first: bool = False,
) -> str:
    """`first`: create only while there is no superuser at all (the dashboard's first-run
    screen), checked inside the write itself so two concurrent first runs cannot both pass."""
    col = store.find(SUPERUSERS)
    assert col is not None
    req = _system_request(store)

    def op(ctx: WriteContext) -> str:
        writer = RecordWriter(ctx, store.registry, store.storage, req)
        if first and scalar(ctx.conn, f"SELECT COUNT(*) FROM {quote(SUPERUSERS)}"):
            raise SuperuserError("a superuser exists already")
        existing = _find_id(ctx, email)
        body = {"email": email, "password": password, "passwordConfirm": password, "verified": True}
        if existing and create_only:
            raise SuperuserError(f"superuser {email} already exists")
        if not existing and update_only:
            raise SuperuserError(f"superuser {email} does not exist")
        if existing:
            return writer.update(col, existing, body).raw["id"]
        return writer.create(col, body).raw["id"]

    try:
        return store.db.write_sync(op)
    except ApiError as e:
        raise SuperuserError(_describe(e))


def ensure(store: Store, email: str, password: str) -> str:
    """Upsert at start-up, skipping the write (and a second hash) when nothing changed."""
    from core.auth.passwords import verify_password

    rows = store.db.read_sync(
        lambda conn: conn.execute(
            f"SELECT id, password FROM {quote(SUPERUSERS)} WHERE email = ? COLLATE NOCASE", (email,)
        ).fetchall()
    )
    if rows and verify_password(str(rows[0][1]), password):
        return str(rows[0][0])
    return upsert(store, email, password)


def delete(store: Store, email: str) -> None:
    col = store.find(SUPERUSERS)
    assert col is not None
    req = _system_request(store)

    def op(ctx: WriteContext) -> None:
        existing = _find_id(ctx, email)
        if not existing:
            raise SuperuserError(f"superuser {email} does not exist")
        RecordWriter(ctx, store.registry, store.storage, req).delete(col, existing, check_rule=False)

    try:
        store.db.write_sync(op)
    except ApiError as e:  # the only superuser is never deleted (PocketBase's rule, in the writer)
        raise SuperuserError(_describe(e))


def count(store: Store) -> int:
    return int(store.db.read_sync(lambda conn: scalar(conn, f"SELECT COUNT(*) FROM {quote(SUPERUSERS)}")))

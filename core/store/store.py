"""The store: one object that owns the database, the collection registry and file storage.

The API layer calls these coroutines; each read runs on a reader thread and each write is one
transaction on the writer thread.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from core.errors import ApiError
from core.store import collections as colmod
from core.store import ddl
from core.store.cache_sync import CacheSync
from core.store.db import Database, WriteContext
from core.store.files import FileStorage
from core.store.record_query import ListParams, is_point_read, list_records, load_raw, present, view_record
from core.store.record_view import FieldsSpec
from core.store.record_write import RecordWriter, WriteResult
from core.store.request import RequestContext
from core.store.schema import AUTH_OPTION_KEYS, RULE_NAMES, Collection, Field, merge_option
from core.store.settings import SettingsCache, env_overrides, write_settings
from core.store.times import now_str


def _init_connection(conn: apsw.Connection) -> None:
    from core.store.filter import register_sql_functions

    register_sql_functions(conn)


class Store:
    def __init__(self, pb_dir: Path, readers: int = 3, env: Mapping[str, str] | None = None):
        self.dir = pb_dir
        self.env = dict(env or {})
        self.settings = SettingsCache()
        self.db = Database(pb_dir / "data.db", readers=readers, init=_init_connection)
        self.registry = colmod.Registry()
        self.storage = FileStorage(pb_dir / "storage")
        self.sync = CacheSync(self)

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db.open()
        self.sync.attach()

        def boot(ctx: WriteContext) -> None:
            colmod.bootstrap(ctx.conn)
            self.registry.load(ctx.conn)
            self.settings.load(ctx.conn)
            patch = env_overrides(self.env)
            if patch:
                merged = merge_option(self.settings.get(), patch)
                if merged != self.settings.get():
                    write_settings(ctx.conn, merged)
                    self.settings.load(ctx.conn)

        self.db.write_sync(boot)

    def close(self) -> None:
        self.db.close()
        self.sync.detach()

    def find(self, id_or_name: str) -> Collection | None:
        return self.registry.find(id_or_name)

    def collection_or_404(self, id_or_name: str, message: str = "Missing collection context.") -> Collection:
        col = self.registry.find(id_or_name)
        if col is None:
            raise ApiError(404, message)
        return col

    def _reload_after(self, ctx: WriteContext) -> None:
        ctx.after_commit.append(lambda: self.registry.load(ctx.conn))
        ctx.tags["collections_changed"] = True

    # -- collections -----------------------------------------------------------------------
    async def create_collection(self, data: dict[str, Any]) -> Collection:
        col = collection_from_input(data)

        def op(ctx: WriteContext) -> Collection:
            colmod.normalize_new_collection(col)
            if col.is_view:
                colmod.infer_view_fields(ctx.conn, col, self.registry)
            colmod.validate_collection(col, None, self.registry, ctx.conn)
            col.created = col.updated = now_str()
            self._write_collection(ctx, None, col)
            return col

        return await self.db.write(op, schema=True)

    async def update_collection(self, id_or_name: str, data: dict[str, Any]) -> Collection:
        self.collection_or_404(id_or_name, "The requested resource wasn't found.")

        def op(ctx: WriteContext) -> Collection:
            # read on the writer, not when the request came in: the collection may have changed
            # in between (a concurrent edit; under --ha another node's, applied just before this
            # group or before its retry), and the DDL is the difference from what is there now
            old = self.collection_or_404(id_or_name, "The requested resource wasn't found.")
            new = apply_collection_patch(old, data)
            if new.is_view:
                colmod.infer_view_fields(ctx.conn, new, self.registry)
            colmod.validate_collection(new, old, self.registry, ctx.conn)
            new.updated = now_str()
            self._write_collection(ctx, old, new)
            return new

        return await self.db.write(op, schema=True)

    def _write_collection(self, ctx: WriteContext, old: Collection | None, new: Collection) -> None:
        row = colmod.collection_row(new)
        try:
            if old is None:
                ctx.conn.execute(f"INSERT INTO _collections VALUES ({','.join('?' * 14)})", row)
            else:
                ctx.conn.execute(
                    "UPDATE _collections SET id=?, system=?, type=?, name=?, fields=?, indexes=?, listRule=?, "
                    "viewRule=?, createRule=?, updateRule=?, deleteRule=?, options=?, created=?, updated=? WHERE id=?",
                    (*row, old.id),
                )
            ddl.sync_schema(ctx.conn, old, new)
        except (apsw.SQLError, apsw.ConstraintError, ValueError) as e:
            verb = "create" if old is None else "update"
            raise ApiError(
                400,
                f"Failed to {verb} collection.",
                {"indexes": {"code": "validation_invalid_schema", "message": str(e)}},
            )
        self._reload_after(ctx)

    async def delete_collection(self, id_or_name: str) -> None:
        col = self.collection_or_404(id_or_name, "The requested resource wasn't found.")
        if col.system:
            raise ApiError(400, "Failed to delete collection due to existing dependency.", {})

        def op(ctx: WriteContext) -> None:
            # as it is now (a concurrent rename must not leave the table behind)
            col = self.collection_or_404(id_or_name, "The requested resource wasn't found.")
            for other in self.registry.all():
                if other.id == col.id:
                    continue
                for f in other.fields:
                    if f.type == "relation" and f.opt("collectionId") == col.id:
                        raise ApiError(400, "Failed to delete collection due to existing dependency.")
                if other.is_view and _mentions(other.viewQuery, col.name):
                    raise ApiError(400, "Failed to delete collection due to existing dependency.")
            ctx.conn.execute("DELETE FROM _collections WHERE id=?", (col.id,))
            ddl.sync_schema(ctx.conn, col, None)
            self._reload_after(ctx)
            ctx.after_commit.append(lambda: self.storage.delete_collection(col.id))

        await self.db.write(op, schema=True)

    async def truncate_collection(self, id_or_name: str) -> None:
        col = self.collection_or_404(id_or_name, "The requested resource wasn't found.")
        if col.is_view:
            raise ApiError(400, "View collections cannot be truncated.")

        def op(ctx: WriteContext) -> None:
            writer = RecordWriter(ctx, self.registry, self.storage, RequestContext())
            ids = [r[0] for r in ctx.conn.execute(f"SELECT id FROM {ddl.quote(col.name)}")]
            for record_id in ids:
                if load_raw(ctx.conn, col, record_id) is not None:
                    writer.delete(col, record_id, check_rule=False)

        await self.db.write(op)

    async def import_collections(self, items: list[dict[str, Any]], delete_missing: bool) -> None:
        def op(ctx: WriteContext) -> None:
            seen: set[str] = set()
            for i, data in enumerate(items):
                if not isinstance(data, dict):
                    raise ApiError(
                        400,
                        "Failed to import collections.",
                        {
                            "collections": {
                                "code": "validation_invalid_collections",
                                "message": f"Invalid collection at index {i}.",
                            }
                        },
                    )
                existing = self.registry.find(str(data.get("id") or "")) or self.registry.find(
                    str(data.get("name") or "")
                )
                try:
                    if existing is None:
                        col = collection_from_input(data)
                        colmod.normalize_new_collection(col)
                        if col.is_view:
                            colmod.infer_view_fields(ctx.conn, col, self.registry)
                        colmod.validate_collection(col, None, self.registry, ctx.conn)
                        col.created = col.updated = now_str()
                        self._write_collection(ctx, None, col)
                    else:
                        col = apply_collection_patch(existing, data, replace_fields=True)
                        if col.is_view:
                            colmod.infer_view_fields(ctx.conn, col, self.registry)
                        colmod.validate_collection(col, existing, self.registry, ctx.conn)
                        col.updated = now_str()
                        self._write_collection(ctx, existing, col)
                except ApiError as e:
                    raise ApiError(
                        400,
                        "Failed to import collections.",
                        {
                            "collections": {
                                "code": "validation_collections_import_failure",
                                "message": f"Failed to import collection {data.get('name')!r}: {e.message} {json.dumps(e.data)}",
                            }
                        },
                    )
                self.registry.load(ctx.conn)
                seen.add(col.id)
            if delete_missing:
                for other in self.registry.all():
                    if other.id not in seen and not other.system:
                        ctx.conn.execute("DELETE FROM _collections WHERE id=?", (other.id,))
                        ddl.sync_schema(ctx.conn, other, None)
            self._reload_after(ctx)

        try:
            await self.db.write(op, schema=True)
        finally:
            await self.db.read(lambda conn: self.registry.load(conn))

    # -- settings --------------------------------------------------------------------------
    async def update_settings(self, patch: dict[str, Any]) -> dict[str, Any]:
        """Deep-merge a partial settings object; returns the new full settings."""

        def op(ctx: WriteContext) -> dict[str, Any]:
            value = merge_option(self.settings.get(), patch)
            write_settings(ctx.conn, value)
            ctx.after_commit.append(lambda: self.settings.load(ctx.conn))
            ctx.tags["settings_changed"] = True
            return value

        return await self.db.write(op)

    # -- records ---------------------------------------------------------------------------
    async def list_records(self, col: Collection, params: ListParams, req: RequestContext) -> dict[str, Any]:
        return await self.db.read(lambda conn: list_records(conn, col, params, req, self.find))

    async def view_record(
        self, col: Collection, record_id: str, req: RequestContext, expand: str = "", fields: str = ""
    ) -> dict[str, Any]:
        def read(conn: Any) -> dict[str, Any]:
            return view_record(conn, col, record_id, req, self.find, expand, fields)

        if is_point_read(col, expand):
            return self.db.read_inline(read)
        return await self.db.read(read)

    def current(self, col: Collection) -> Collection:
        """`col` as the write group finds it. The request resolved it before its group ran; in
        between, a change of it may have been applied (under --ha another node's, caught up on
        before the group or before its retry), and a write must not name a column that is gone."""
        now = self.registry.find(col.id)
        if now is None:
            raise ApiError(404, "Missing collection context.")
        return now

    async def create_record(
        self, col: Collection, body: dict[str, Any], req: RequestContext, view: RecordView | None = None
    ) -> WriteResult:
        return await self.db.write(
            lambda ctx: self._presented(
                ctx,
                RecordWriter(ctx, self.registry, self.storage, req).create(self.current(col), body),
                req,
                view,
            )
        )

    async def update_record(
        self,
        col: Collection,
        record_id: str,
        body: dict[str, Any],
        req: RequestContext,
        view: RecordView | None = None,
    ) -> WriteResult:
        return await self.db.write(
            lambda ctx: self._presented(
                ctx,
                RecordWriter(ctx, self.registry, self.storage, req).update(
                    self.current(col), record_id, body
                ),
                req,
                view,
            )
        )

    def _presented(
        self, ctx: WriteContext, result: WriteResult, req: RequestContext, view: RecordView | None
    ) -> WriteResult:
        # serializing on the writer's connection, inside the transaction, saves a reader round trip
        if view is not None:
            result.presented = present(
                ctx.conn, result.collection, [result.raw], req, self.find, view.expand, view.fields
            )[0]
        return result

    async def delete_record(self, col: Collection, record_id: str, req: RequestContext) -> WriteResult:
        return await self.db.write(
            lambda ctx: RecordWriter(ctx, self.registry, self.storage, req).delete(
                self.current(col), record_id
            )
        )

    async def load_raw(self, col: Collection, record_id: str) -> dict[str, Any] | None:
        return await self.db.read(lambda conn: load_raw(conn, col, record_id))


@dataclass
class RecordView:
    """How the caller wants a written record back: `?expand=` and a parsed `?fields=`."""

    expand: str = ""
    fields: FieldsSpec | None = None


def _mentions(query: str, name: str) -> bool:
    import re

    return re.search(r"\b" + re.escape(name) + r"\b", query) is not None


def collection_from_input(data: dict[str, Any]) -> Collection:
    if not isinstance(data, dict):
        raise ApiError(400)
    fields = data.get("fields")
    if fields is not None and not isinstance(fields, list):
        raise ApiError(
            400,
            "Failed to create collection.",
            {"fields": {"code": "validation_invalid_fields", "message": "Must be an array."}},
        )
    for f in fields or []:
        if not isinstance(f, dict):
            raise ApiError(
                400,
                "Failed to create collection.",
                {"fields": {"code": "validation_invalid_fields", "message": "Invalid field."}},
            )
    for rule in RULE_NAMES:
        if data.get(rule) is not None and not isinstance(data.get(rule), str):
            raise ApiError(
                400,
                "Failed to create collection.",
                {rule: {"code": "validation_invalid_rule", "message": "Must be a string or null."}},
            )
    if data.get("indexes") is not None and not isinstance(data.get("indexes"), list):
        raise ApiError(
            400,
            "Failed to create collection.",
            {"indexes": {"code": "validation_invalid_indexes", "message": "Must be an array."}},
        )
    return Collection.from_json(data)


def apply_collection_patch(old: Collection, data: dict[str, Any], replace_fields: bool = True) -> Collection:
    if not isinstance(data, dict):
        raise ApiError(400)
    new = copy.deepcopy(old)
    if "name" in data:
        new.name = str(data["name"] or "")
    if "type" in data:
        new.type = str(data["type"] or "")
    for rule in RULE_NAMES:
        if rule in data:
            value = data[rule]
            if value is not None and not isinstance(value, str):
                raise ApiError(
                    400,
                    "Failed to update collection.",
                    {rule: {"code": "validation_invalid_rule", "message": "Must be a string or null."}},
                )
            setattr(new, rule, value)
    if "indexes" in data:
        if not isinstance(data["indexes"], list):
            raise ApiError(
                400,
                "Failed to update collection.",
                {"indexes": {"code": "validation_invalid_indexes", "message": "Must be an array."}},
            )
        new.indexes = list(data["indexes"])
    if "viewQuery" in data:
        new.viewQuery = str(data["viewQuery"] or "")
    if "fields" in data:
        if not isinstance(data["fields"], list) or not all(isinstance(f, dict) for f in data["fields"]):
            raise ApiError(
                400,
                "Failed to update collection.",
                {"fields": {"code": "validation_invalid_fields", "message": "Must be an array of fields."}},
            )
        fields: list[Field] = []
        for fd in data["fields"]:
            prev = (old.field_by_id(str(fd.get("id"))) if fd.get("id") else None) or (
                None if fd.get("id") else old.get_field(str(fd.get("name", "")))
            )
            if prev is not None:
                merged = {**prev.to_json(), **fd}
                merged["id"] = prev.id
                if prev.system:
                    merged["system"] = True
                fields.append(Field.from_json(merged))
            else:
                fields.append(Field.from_json(fd))
        new.fields = fields
    if new.is_auth:
        for key in AUTH_OPTION_KEYS:
            if key in data:
                new.auth[key] = merge_option(new.auth.get(key), data[key])
        _keep_client_secrets(old, new)
    return new


def _keep_client_secrets(old: Collection, new: Collection) -> None:
    """A provider sent without its clientSecret keeps the stored one of the same name, as
    PocketBase 0.40.6 does (checked against the binary): the API never shows the secret, so a
    client that saves the collection back (the dashboard) cannot send it."""
    stored = {
        p.get("name"): p.get("clientSecret")
        for p in (old.auth.get("oauth2") or {}).get("providers") or []
        if isinstance(p, dict) and p.get("clientSecret")
    }
    for provider in (new.auth.get("oauth2") or {}).get("providers") or []:
        if isinstance(provider, dict) and not provider.get("clientSecret") and provider.get("name") in stored:
            provider["clientSecret"] = stored[provider["name"]]

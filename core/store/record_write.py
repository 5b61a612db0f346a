"""Writing records: create, update, delete, with validation and API rules.

Every function here runs on the writer thread inside one transaction (`Database.write`), so an
error at any step (validation, rule, unique index) rolls back everything it did: no half-written
row. Create and update rules that look at the new state are checked inside that transaction,
after the row is written, the way PocketBase does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import apsw

from core.errors import ApiError, validation_error
from core.store.codec import codec_of
from core.store.collections import Registry
from core.store.db import WriteContext
from core.store.ddl import quote
from core.store.fields import FieldError, ValidationContext, generate_from_pattern, split_modifier
from core.store.fields.file import UploadedFile, stored_name
from core.store.files import FileStorage
from core.store.filter import SQL
from core.store.record_query import load_raw, manage_ids, scalar
from core.store.record_view import fetch_dicts, normalized
from core.store.request import SUPERUSERS, RequestContext
from core.store.rules import ALIAS, record_matches, rule_sql
from core.store.schema import Collection, Field
from core.store.times import now_str

Finder = Callable[[str], Collection | None]

AUTH_SPECIAL_KEYS = ("passwordConfirm", "oldPassword")
META_KEYS = ("collectionId", "collectionName", "expand")
# system collections pointing at an auth record (collectionRef + recordRef): they go with it
AUTH_REF_TABLES = ("_mfas", "_otps", "_externalAuths", "_authOrigins")


@dataclass
class WriteResult:
    collection: Collection
    raw: dict[str, Any]
    # filenames the write made unreachable: removed from storage once the commit is durable
    removed_files: list[str] = field(default_factory=list)
    # the record as the caller sees it, built inside the write transaction when asked for
    presented: dict[str, Any] | None = None


class RecordWriter:
    def __init__(self, ctx: WriteContext, registry: Registry, storage: FileStorage, req: RequestContext):
        self.ctx = ctx
        self.conn: apsw.Connection = ctx.conn
        self.registry = registry
        self.find: Finder = registry.find
        self.storage = storage
        self.req = req

    # -- shared ---------------------------------------------------------------------------------
    def _existing_ids(self, col: Collection, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        return {
            r[0]
            for r in self.conn.execute(f"SELECT `id` FROM {quote(col.name)} WHERE `id` IN ({marks})", ids)
        }

    def _can_manage(self, col: Collection, record_id: str | None) -> bool:
        if self.req.is_superuser:
            return True
        if not col.is_auth or record_id is None or self.req.auth is None:
            return False
        allowed = manage_ids(self.conn, col, [record_id], self.req, self.find)
        return bool(allowed and record_id in allowed)

    def _apply_body(
        self, col: Collection, values: dict[str, Any], body: dict[str, Any], errors: dict[str, Any]
    ) -> None:
        by_name = codec_of(col).by_name
        for key, raw in body.items():
            name, modifier = split_modifier(key)
            known = by_name.get(name)
            # an autodate takes no value from a body (its setter is a no-op in PocketBase)
            if known is None or known[1].name == "autodate":
                continue
            f, ft = known
            try:
                if modifier is not None:
                    # `slug:autogenerate: "pre-"` gives "pre-" + a generated value (PocketBase)
                    values[name] = ft.apply_modifier(f, values.get(name), modifier, raw)
                else:
                    values[name] = ft.normalize(f, raw)
            except FieldError as e:
                errors[name] = e.to_json()

    def _validate(
        self, col: Collection, values: dict[str, Any], old: dict[str, Any] | None, errors: dict[str, Any]
    ) -> None:
        vctx = ValidationContext(
            collection=col,
            is_new=old is None,
            old=old,
            find_collection=self.find,
            existing_ids=self._existing_ids,
            is_superuser=self.req.is_superuser,
        )
        for f, validate in codec_of(col).validators:
            if f.name in errors:
                continue
            try:
                validate(f, values.get(f.name), vctx)
            except FieldError as e:
                errors[f.name] = e.to_json()

    def _store_files(
        self, col: Collection, record_id: str, values: dict[str, Any], old: dict[str, Any] | None
    ) -> list[str]:
        """Write new uploads; return the old filenames no longer referenced."""
        removed: list[str] = []
        for f in col.fields:
            if f.type != "file":
                continue
            value = values.get(f.name)
            items = value if isinstance(value, list) else ([value] if value else [])
            names: list[str] = []
            for item in items:
                if isinstance(item, UploadedFile):
                    name = item.name or stored_name(item.filename, item.head())
                    self.storage.save(col.id, record_id, name, item.reader())
                    self.ctx.on_rollback.append(partial(self.storage.delete, col.id, record_id, name))
                    # for a replicated store: the files a change needs, before it is published
                    self.ctx.tags.setdefault("files_added", []).append([col.id, record_id, name])
                    names.append(name)
                else:
                    names.append(str(item))
            values[f.name] = names if f.is_multi else (names[-1] if names else "")
            if old is not None:
                before = old.get(f.name)
                before_list = before if isinstance(before, list) else ([before] if before else [])
                removed += [n for n in before_list if n not in names]
        return removed

    def _row_params(self, col: Collection, values: dict[str, Any]) -> tuple[list[str], list[Any]]:
        writers = codec_of(col).writers
        get = values.get
        return [name for name, _ in writers], [write(get(name)) for name, write in writers]

    def _unique_errors(self, col: Collection, exc: apsw.ConstraintError) -> dict[str, Any]:
        text = str(exc)
        out: dict[str, Any] = {}
        for f in col.fields:
            if f".{f.name}" in text:
                out[f.name] = validation_error("validation_not_unique", "Value must be unique.")
        return out

    def _write_rule(
        self, col: Collection, rule_name: str, body: dict[str, Any], values: dict[str, Any]
    ) -> SQL | None:
        """The create or update rule's SQL; the rule's view of the body is built only for a rule
        that is there to be checked (not "" and not for a superuser)."""
        if self.req.is_superuser or not (col.rule(rule_name) or "").strip():
            return rule_sql(col, rule_name, self.req, self.find)
        return rule_sql(col, rule_name, self._rule_request(col, body, values), self.find)

    def _rule_request(self, col: Collection, body: dict[str, Any], values: dict[str, Any]) -> RequestContext:
        """The request as rules see it: `@request.body.f` is field f's normalized new value."""
        rule_body: dict[str, Any] = {}
        by_name = codec_of(col).by_name
        for key, raw in body.items():
            name, _ = split_modifier(key)
            known = by_name.get(name)
            if known is None:
                rule_body[key] = raw
                continue
            f, value = known[0], values.get(name)
            if f.type == "file":
                items = value if isinstance(value, list) else [value]
                names = [i.filename if isinstance(i, UploadedFile) else i for i in items if i]
                value = names if f.is_multi else (names[-1] if names else "")
            rule_body[name] = value
        return RequestContext(
            self.req.auth, rule_body, self.req.query, self.req.headers, self.req.method, self.req.context
        )

    # -- create ---------------------------------------------------------------------------------
    def create(self, col: Collection, body: dict[str, Any]) -> WriteResult:
        if col.is_view:
            raise ApiError(400, "Failed to create record.")
        rule_sql(col, "createRule", self.req, self.find)  # a null rule fails fast with 403
        values = codec_of(col).new_values()
        errors: dict[str, Any] = {}
        clean = {k: v for k, v in body.items() if k not in META_KEYS}
        if col.is_auth and not self.req.is_superuser:
            if "tokenKey" in clean:
                clean.pop("tokenKey")
            if clean.get("verified") not in (None, False, "false", "", 0, "0") and not self._can_manage(
                col, None
            ):
                errors["verified"] = validation_error("validation_values_mismatch", "Values don't match.")
                clean.pop("verified")
        self._apply_body(col, values, clean, errors)
        rule = self._write_rule(col, "createRule", body, values)
        self._fill_generated(col, values, is_new=True)
        if col.is_auth:
            self._check_password_confirm(clean, errors, required=True)
        self._validate(col, values, None, errors)
        if col.is_auth:
            self._check_email_unique(col, values, None, errors)
        if errors:
            raise ApiError(400, "Failed to create record.", errors)
        record_id = str(values["id"])
        self._store_files(col, record_id, values, None)
        names, params = self._row_params(col, values)
        try:
            # RETURNING gives the row as stored (defaults, column affinity), in the same statement
            [raw] = fetch_dicts(
                self.conn,
                f"INSERT INTO {quote(col.name)} ({','.join(quote(n) for n in names)}) VALUES ({','.join('?' * len(names))}) RETURNING *",
                params,
            )
        except apsw.ConstraintError as e:
            raise ApiError(
                400,
                "Failed to create record.",
                self._unique_errors(col, e)
                or {"id": validation_error("validation_not_unique", "Value must be unique.")},
            )
        if rule is not None and not record_matches(self.conn, col, record_id, rule):
            raise ApiError(400, "Failed to create record.")
        self.ctx.tags.setdefault("records", []).append(("create", col.id, record_id))
        return WriteResult(col, raw)

    def _fill_generated(self, col: Collection, values: dict[str, Any], *, is_new: bool) -> None:
        codec = codec_of(col)
        now = now_str()
        for name in codec.stamped_on_create if is_new else codec.stamped_on_update:
            values[name] = now
        if is_new:
            for name, pattern in codec.generated:
                if not values.get(name):
                    values[name] = generate_from_pattern(pattern)

    def _check_password_confirm(
        self, body: dict[str, Any], errors: dict[str, Any], *, required: bool
    ) -> None:
        if "password" not in body and not required:
            return
        if "password" in body and str(body.get("passwordConfirm", "")) != str(body.get("password", "")):
            errors.setdefault(
                "passwordConfirm", validation_error("validation_values_mismatch", "Values don't match.")
            )

    def _check_email_unique(
        self, col: Collection, values: dict[str, Any], record_id: str | None, errors: dict[str, Any]
    ) -> None:
        email = values.get("email")
        if not email or "email" in errors:
            return
        row = self.conn.execute(
            f"SELECT 1 FROM {quote(col.name)} WHERE `email` = ? COLLATE NOCASE AND `id` != ? LIMIT 1",
            (email, record_id or ""),
        ).fetchone()
        if row:
            errors["email"] = validation_error("validation_not_unique", "Value must be unique.")

    # -- update ---------------------------------------------------------------------------------
    def update(self, col: Collection, record_id: str, body: dict[str, Any]) -> WriteResult:
        if col.is_view:
            raise ApiError(400, "Failed to update record.")
        rule_sql(col, "updateRule", self.req, self.find)  # a null rule fails fast with 403
        raw_old = load_raw(self.conn, col, record_id)
        if raw_old is None:
            raise ApiError(404)
        old = normalized(col, raw_old)
        for f in col.fields:
            if f.type == "password":  # keep stored hashes (the API value is always "")
                old[f.name] = raw_old.get(f.name, "")
        values = dict(old)
        errors: dict[str, Any] = {}
        # a submitted `id` stays: the id field's validation refuses a change (validation_pk_change)
        clean = {k: v for k, v in body.items() if k not in META_KEYS}
        if col.is_auth:
            self._auth_update_guards(col, record_id, raw_old, clean, errors)
        self._apply_body(col, values, clean, errors)
        # the rule sees the stored row and the submitted (normalized) body
        rule = self._write_rule(col, "updateRule", body, values)
        if not record_matches(self.conn, col, record_id, rule):
            raise ApiError(404)
        self._fill_generated(col, values, is_new=False)
        password_changed = col.is_auth and "password" in clean and "password" not in errors
        if password_changed:
            self._check_password_confirm(clean, errors, required=False)
            values["tokenKey"] = generate_from_pattern("[a-zA-Z0-9]{50}")
        elif col.is_auth and "tokenKey" not in clean and values.get("email") != old.get("email"):
            # tokens were issued for the old address: a new one revokes them (PocketBase)
            values["tokenKey"] = generate_from_pattern("[a-zA-Z0-9]{50}")
        self._validate(col, values, old, errors)
        if col.is_auth:
            self._check_email_unique(col, values, record_id, errors)
        if errors:
            raise ApiError(400, "Failed to update record.", errors)
        if col.is_auth:
            self._auth_update_refs(col.id, record_id, old, values)
        removed = self._store_files(col, record_id, values, old)
        names, params = self._row_params(col, values)
        sets = ",".join(f"{quote(n)}=?" for n in names)
        try:
            [raw] = fetch_dicts(
                self.conn,
                f"UPDATE {quote(col.name)} SET {sets} WHERE `id` = ? RETURNING *",
                [*params, record_id],
            )
        except apsw.ConstraintError as e:
            raise ApiError(400, "Failed to update record.", self._unique_errors(col, e))
        new_id = str(values.get("id") or record_id)
        if password_changed:
            # a new password also ends pending MFA sessions and forgets the known login origins
            self.delete_auth_refs(col.id, record_id, ("_mfas", "_authOrigins"))
        self.ctx.tags.setdefault("records", []).append(("update", col.id, new_id))
        self._schedule_file_removal(col.id, record_id, removed)
        return WriteResult(col, raw, removed)

    def _auth_update_guards(
        self,
        col: Collection,
        record_id: str,
        raw_old: dict[str, Any],
        body: dict[str, Any],
        errors: dict[str, Any],
    ) -> None:
        if self.req.is_superuser:
            return
        body.pop("tokenKey", None)
        manager = self._can_manage(col, record_id)
        if not manager:
            for key in ("verified", "email"):
                if key in body and _differs(body[key], raw_old.get(key)):
                    errors[key] = validation_error("validation_values_mismatch", "Values don't match.")
                    body.pop(key)
        if "password" in body and not manager:
            from core.auth.passwords import verify_password

            if not verify_password(str(raw_old.get("password", "")), str(body.get("oldPassword", ""))):
                errors["oldPassword"] = validation_error(
                    "validation_invalid_old_password", "Missing or invalid old password."
                )

    # -- delete ---------------------------------------------------------------------------------
    def delete(self, col: Collection, record_id: str, *, check_rule: bool = True) -> WriteResult:
        if col.is_view:
            raise ApiError(400, "Failed to delete record.")
        rule = rule_sql(col, "deleteRule", self.req, self.find) if check_rule else None
        raw = load_raw(self.conn, col, record_id)
        if raw is None or not record_matches(self.conn, col, record_id, rule):
            raise ApiError(404)
        if (
            col.name == SUPERUSERS
            and int(scalar(self.conn, f"SELECT COUNT(*) FROM {quote(col.name)}") or 0) <= 1
        ):
            # PocketBase's superusers delete hook (core/record_model_superusers.go): counted in
            # the write's own transaction, so two concurrent deletes cannot both pass
            raise ApiError(400, "You can't delete the only existing superuser.")
        self._delete_cascade(col, raw, set())
        return WriteResult(col, raw)

    def _delete_cascade(self, col: Collection, raw: dict[str, Any], seen: set[tuple[str, str]]) -> None:
        record_id = raw["id"]
        key = (col.id, record_id)
        if key in seen:
            return
        seen.add(key)
        self.ctx.tags.setdefault("records", []).append(("delete", col.id, record_id))
        self.ctx.tags.setdefault("deleted_raw", []).append((col.id, raw))
        for other, rel in self._references_to(col):
            column = quote(rel.name)
            if rel.is_multi:
                where = f"EXISTS (SELECT 1 FROM json_each({ALIAS}.{column}) WHERE json_each.value = ?)"
            else:
                where = f"{ALIAS}.{column} = ?"
            for ref in fetch_dicts(
                self.conn, f"SELECT {ALIAS}.* FROM {quote(other.name)} AS {ALIAS} WHERE {where}", (record_id,)
            ):
                if (other.id, ref["id"]) in seen:
                    continue
                if rel.opt("cascadeDelete"):
                    self._delete_cascade(other, ref, seen)
                    continue
                remaining: Any
                if rel.is_multi:
                    remaining = [i for i in json.loads(ref[rel.name] or "[]") if i != record_id]
                    stored: Any = json.dumps(remaining)
                else:
                    remaining, stored = "", ""
                if rel.required and not remaining:
                    raise ApiError(
                        400,
                        "The record cannot be deleted because it is part of a required reference in another record.",
                    )
                self.conn.execute(
                    f"UPDATE {quote(other.name)} SET {column} = ? WHERE `id` = ?", (stored, ref["id"])
                )
        self.conn.execute(f"DELETE FROM {quote(col.name)} WHERE `id` = ?", (record_id,))
        if col.is_auth:
            self.delete_auth_refs(col.id, record_id, AUTH_REF_TABLES)
        files = [
            n
            for f in col.fields
            if f.type == "file"
            for n in (
                json.loads(raw[f.name] or "[]") if f.is_multi else ([raw[f.name]] if raw[f.name] else [])
            )
        ]
        self._schedule_file_removal(col.id, record_id, files, whole_record=True)

    def delete_auth_refs(self, collection_id: str, record_id: str, tables: tuple[str, ...]) -> int:
        """How many rows went."""
        deleted = 0
        for table in tables:
            self.conn.execute(
                f"DELETE FROM {quote(table)} WHERE `collectionRef` = ? AND `recordRef` = ?",
                (collection_id, record_id),
            )
            deleted += self.conn.changes()
        return deleted

    def _auth_update_refs(
        self, collection_id: str, record_id: str, old: dict[str, Any], values: dict[str, Any]
    ) -> None:
        """PocketBase's record hooks for an auth update (core/external_auth_model.go, otp_model.go)."""
        upgraded = not old.get("verified") and values.get("verified")
        # OAuth2 links made while the address was unproven may be someone else's (account
        # pre-hijacking): they go, and so do the tokens issued to whoever used them
        if upgraded and self.delete_auth_refs(collection_id, record_id, ("_externalAuths",)):
            values["tokenKey"] = generate_from_pattern("[a-zA-Z0-9]{50}")
        if values.get("tokenKey") != old.get("tokenKey"):
            # codes mailed before a password or token reset must not outlive it
            self.delete_auth_refs(collection_id, record_id, ("_otps",))

    def _references_to(self, col: Collection) -> list[tuple[Collection, Field]]:
        return [
            (other, f)
            for other in self.registry.all()
            if not other.is_view
            for f in other.fields
            if f.type == "relation" and f.opt("collectionId") == col.id
        ]

    def _schedule_file_removal(
        self, collection_id: str, record_id: str, names: list[str], whole_record: bool = False
    ) -> None:
        if not names and not whole_record:
            return
        removed = self.ctx.tags.setdefault("files_removed", [])
        # the names even of a whole record's files: under --ha they leave the file bucket by
        # name (listing the bucket per deleted record would cost its size, and a listing never
        # ends while other nodes keep uploading)
        removed += [[collection_id, record_id, n] for n in names]
        if whole_record:
            removed.append([collection_id, record_id, None])

        def remove() -> None:
            if whole_record:
                self.storage.delete_record(collection_id, record_id)
            else:
                for name in names:
                    self.storage.delete(collection_id, record_id, name)

        self.ctx.after_commit.append(remove)


def _differs(new: Any, old: Any) -> bool:
    if isinstance(old, int) and not isinstance(old, bool):
        return str(new).lower() not in (("true", "1") if old else ("false", "0", ""))
    return str(new) != str(old)

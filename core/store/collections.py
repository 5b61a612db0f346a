"""The collections registry: `_collections` rows, their validation, and the cache every request reads.

Writers change collections only through `save_collection` / `delete_collection` inside a write
transaction; the derived tables follow from `core.store.ddl.sync_schema`. The in-memory cache is
swapped whole after the commit, so readers never see a half-applied schema.
"""

from __future__ import annotations

import json
import re
import threading
from importlib import resources
from typing import Any

import apsw

from core.errors import ApiError, validation_error
from core.store import ddl
from core.store.fields import FieldError, field_type
from core.store.fields.netfmt import is_url
from core.store.filter import simple_context
from core.store.record_query import ListParams, search_table
from core.store.schema import (
    AUTH_OPTION_KEYS,
    COLLECTION_TYPES,
    FIELD_TYPES,
    NAME_RE,
    RULE_NAMES,
    Collection,
    Field,
    auth_system_fields,
    id_field,
)
from core.store.times import now_str

SYSTEM_AUTH_FIELDS = ("password", "tokenKey", "email", "emailVisibility", "verified")
RESERVED_FIELD_NAMES = ("expand", "collectionId", "collectionName")
RESERVED_AUTH_FIELD_NAMES = ("passwordConfirm", "oldPassword")


def row_to_collection(row: tuple[Any, ...]) -> Collection:
    (
        id_,
        system,
        type_,
        name,
        fields,
        indexes,
        list_r,
        view_r,
        create_r,
        update_r,
        delete_r,
        options,
        created,
        updated,
    ) = row
    data: dict[str, Any] = {
        "id": id_,
        "system": bool(system),
        "type": type_,
        "name": name,
        "fields": json.loads(fields),
        "indexes": json.loads(indexes),
        "listRule": list_r,
        "viewRule": view_r,
        "createRule": create_r,
        "updateRule": update_r,
        "deleteRule": delete_r,
        "created": created,
        "updated": updated,
    }
    data.update(json.loads(options or "{}"))
    col = Collection.from_json(data)
    return col


def collection_row(col: Collection) -> tuple[Any, ...]:
    options: dict[str, Any] = {}
    if col.is_view:
        options["viewQuery"] = col.viewQuery
    if col.is_auth:
        options.update(col.auth)
    return (
        col.id,
        int(col.system),
        col.type,
        col.name,
        json.dumps([f.to_json() for f in col.fields]),
        json.dumps(col.indexes),
        col.listRule,
        col.viewRule,
        col.createRule,
        col.updateRule,
        col.deleteRule,
        json.dumps(options),
        col.created,
        col.updated,
    )


COLLECTION_COLUMNS = (
    "id, system, type, name, fields, indexes, listRule, viewRule, createRule, updateRule, "
    "deleteRule, options, created, updated"
)
SELECT_COLLECTIONS = f"SELECT {COLLECTION_COLUMNS} FROM _collections ORDER BY created, rowid"

# what GET /api/collections may filter and sort by (PocketBase's collectionsList, apis/collection.go)
COLLECTION_FILTER_FIELDS = ("id", "created", "updated", "name", "system", "type")
_LIST_ALIAS = "`_collections`"
_LIST_CONTEXT = simple_context(_LIST_ALIAS, COLLECTION_FILTER_FIELDS)


def search_collections(conn: apsw.Connection, params: ListParams) -> dict[str, Any]:
    """GET /api/collections: the `_collections` rows through the filter compiler, like PocketBase
    (no sort means table order)."""
    rows, meta = search_table(
        conn, f"_collections AS {_LIST_ALIAS}", _LIST_CONTEXT, params, COLLECTION_COLUMNS
    )
    return {"items": [row_to_collection(tuple(r.values())).to_json() for r in rows], **meta}


class Registry:
    """The cache of collections, by id and by lower-cased name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Collection] = {}
        self._by_name: dict[str, Collection] = {}
        self._ordered: list[Collection] = []

    def load(self, conn: apsw.Connection) -> None:
        cols = [row_to_collection(r) for r in conn.execute(SELECT_COLLECTIONS)]
        with self._lock:
            self._ordered = cols
            self._by_id = {c.id: c for c in cols}
            self._by_name = {c.name.lower(): c for c in cols}

    def find(self, id_or_name: str) -> Collection | None:
        return self._by_id.get(id_or_name) or self._by_name.get(id_or_name.lower())

    def all(self) -> list[Collection]:
        return list(self._ordered)


def bootstrap(conn: apsw.Connection) -> None:
    """Create internal tables and PocketBase's default collections on a new database."""
    for sql in ddl.INTERNAL_TABLES_SQL:
        conn.execute(sql)
    if conn.execute("SELECT 1 FROM _collections LIMIT 1").fetchone():
        return
    defaults = json.loads(resources.files("core.store").joinpath("data/system_collections.json").read_text())
    for data in defaults:
        col = Collection.from_json(data)
        col.created = col.updated = now_str()
        conn.execute(f"INSERT INTO _collections VALUES ({','.join('?' * 14)})", collection_row(col))
        ddl.sync_schema(conn, None, col)


# -- validation -------------------------------------------------------------------------------

COLLECTION_NAME_MAX = 255


class SchemaErrors:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def add(self, key: str, code: str, message: str, params: dict[str, Any] | None = None) -> None:
        self.data.setdefault(key, validation_error(code, message, params))

    def add_field(self, index: int, key: str, err: dict[str, Any]) -> None:
        fields = self.data.setdefault("fields", {})
        fields.setdefault(str(index), {}).setdefault(key, err)


def normalize_new_collection(col: Collection) -> None:
    """Fill what PocketBase fills in on create: the id field, auth system fields, default indexes."""
    if col.is_view:
        return
    if col.get_field("id") is None:
        col.fields.insert(0, id_field())
    if col.is_auth:
        pos = 1
        for f in auth_system_fields():
            if col.get_field(f.name) is None:
                col.fields.insert(pos, f)
            pos += 1
        table_ref = col.id
        wanted = {
            "tokenKey": f"CREATE UNIQUE INDEX `idx_tokenKey_{table_ref}` ON `{col.name}` (`tokenKey`)",
            "email": f"CREATE UNIQUE INDEX `idx_email_{table_ref}` ON `{col.name}` (`email`) WHERE `email` != ''",
        }
        for column, sql in wanted.items():
            if not any(_index_covers(i, column) for i in col.indexes):
                col.indexes.append(sql)


def _index_covers(index_sql: str, column: str) -> bool:
    idx = ddl.parse_index(index_sql)
    return bool(idx and idx.unique and idx.columns.strip("` ") == column)


def validate_collection(
    col: Collection, old: Collection | None, registry: Registry, conn: apsw.Connection
) -> None:
    errs = SchemaErrors()
    if not col.name:
        errs.add("name", "validation_required", "Cannot be blank.")
    elif len(col.name) > COLLECTION_NAME_MAX or not NAME_RE.match(col.name):
        errs.add(
            "name",
            "validation_invalid_name",
            "Invalid collection name. Must contain only alphanumeric and underscore characters.",
        )
    else:
        other = registry.find(col.name)
        if other is not None and other.id != col.id:
            errs.add(
                "name",
                "validation_collection_name_exists",
                "Collection name must be unique (case insensitive).",
            )
        elif old is None and col.name.startswith("_"):
            errs.add(
                "name", "validation_collection_name_invalid", "The name shouldn't start with underscore."
            )
        elif old is not None and old.system and old.name != col.name:
            errs.add(
                "name",
                "validation_collection_system_name_change",
                "System collection name cannot be changed.",
            )
        elif old is None and ddl.table_exists(conn, col.name):
            errs.add(
                "name",
                "validation_collection_name_exists",
                "Collection name must be unique (case insensitive).",
            )
    if col.type not in COLLECTION_TYPES:
        errs.add("type", "validation_in_invalid", "Must be a valid value.")
    elif old is not None and old.type != col.type:
        errs.add("type", "validation_collection_type_change", "Collection type cannot be changed.")
    if old is None and registry.find(col.id) is not None:
        errs.add("id", "validation_collection_id_exists", "Collection id already exists.")

    if not col.is_view:
        _validate_fields(col, old, registry, errs)
        for i, raw in enumerate(col.indexes):
            if not isinstance(raw, str) or ddl.parse_index(raw) is None:
                errs.data.setdefault("indexes", {})[str(i)] = validation_error(
                    "validation_invalid_index_expression", "Invalid CREATE INDEX expression."
                )
    elif not col.viewQuery.strip():
        errs.add("viewQuery", "validation_required", "Cannot be blank.")

    _validate_rules(col, registry, errs)
    if col.is_auth:
        _validate_oauth2(col.auth.get("oauth2") or {}, errs)
    if errs.data:
        raise ApiError(
            400, "Failed to {} collection.".format("create" if old is None else "update"), errs.data
        )


def _validate_oauth2(oauth2: dict[str, Any], errs: SchemaErrors) -> None:
    """PocketBase 0.40 checks the providers only while OAuth2 is enabled: a duplicated name is the
    one error then; else each provider's name (a known one), clientId, clientSecret and URLs."""
    if not oauth2.get("enabled"):
        return
    from core.auth.oauth2 import PROVIDERS  # core.auth imports the store: not at module level

    providers = [p if isinstance(p, dict) else {} for p in oauth2.get("providers") or []]
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for i, p in enumerate(providers):
        name = str(p.get("name") or "")
        if name and name in seen:
            errs.data["oauth2"] = {
                "providers": {
                    str(i): {
                        "name": validation_error(
                            "validation_duplicated_provider",
                            f"The provider {name} is already registered.",
                            {"name": name},
                        )
                    }
                }
            }
            return
        seen.add(name)
    for i, p in enumerate(providers):
        item: dict[str, Any] = {}
        name = str(p.get("name") or "")
        if not name:
            item["name"] = validation_error("validation_required", "Cannot be blank.")
        elif name not in PROVIDERS:
            item["name"] = validation_error(
                "validation_missing_provider",
                f"Invalid or missing provider with name {name}.",
                {"name": name},
            )
        for key in ("clientId", "clientSecret"):
            if not p.get(key):
                item[key] = validation_error("validation_required", "Cannot be blank.")
        for key in ("authURL", "tokenURL", "userInfoURL"):
            value = p.get(key)
            if value and not (isinstance(value, str) and is_url(value)):
                item[key] = validation_error("validation_is_url", "Must be a valid URL.")
        if item:
            out[str(i)] = item
    if out:
        errs.data["oauth2"] = {"providers": out}


def _validate_fields(col: Collection, old: Collection | None, registry: Registry, errs: SchemaErrors) -> None:
    seen: set[str] = set()
    for i, f in enumerate(col.fields):
        if f.type not in FIELD_TYPES:
            # PocketBase cannot even decode a field of an unknown type
            raise ApiError(400, "Failed to load the submitted data due to invalid formatting.")
        lname = f.name.lower()
        if not f.name:
            errs.add_field(i, "name", validation_error("validation_required", "Cannot be blank."))
        elif not NAME_RE.match(f.name) or len(f.name) > 100:
            errs.add_field(i, "name", validation_error("validation_invalid_name", "Invalid field name."))
        elif lname in seen:
            errs.add_field(
                i,
                "name",
                validation_error(
                    "validation_duplicated_field_name",
                    f"Duplicated or invalid field name {f.name}.",
                    {"fieldName": f.name},
                ),
            )
        elif f.name in RESERVED_FIELD_NAMES or (col.is_auth and f.name in RESERVED_AUTH_FIELD_NAMES):
            errs.add_field(
                i, "name", validation_error("validation_field_name_reserved", "The field name is reserved.")
            )
        seen.add(lname)
        try:
            option_errors = field_type(f.type).validate_options(f, col, registry.find)
        except FieldError as e:
            option_errors = {"type": e}
        for key, err in option_errors.items():
            errs.add_field(i, key, err.to_json())
        if old is not None:
            prev = old.field_by_id(f.id)
            if prev is not None and prev.type != f.type:
                errs.add_field(
                    i,
                    "type",
                    validation_error("validation_field_type_change", "Field type cannot be changed."),
                )
    if col.get_field("id") is None:
        errs.add("fields", "validation_missing_primary_key", "Missing primary key field.")
    if old is not None:
        new_ids = {f.id for f in col.fields}
        for f in old.fields:
            if f.system and f.id not in new_ids:
                errs.add(
                    "fields", "validation_system_field_remove", f"System field {f.name} cannot be deleted."
                )
    if col.is_auth:
        for name in SYSTEM_AUTH_FIELDS:
            if col.get_field(name) is None:
                errs.add("fields", "validation_missing_auth_field", f"Missing system auth field {name}.")


def _validate_rules(col: Collection, registry: Registry, errs: SchemaErrors) -> None:
    from core.store.filter import FilterError, check_rule_syntax

    names: list[str] = list(RULE_NAMES)
    if col.is_auth:
        names += ["authRule", "manageRule"]
    for name in names:
        rule = col.rule(name)
        if rule is None or rule == "":
            continue
        if not isinstance(rule, str):
            errs.add(name, "validation_invalid_rule", "Invalid rule.")
            continue
        try:
            check_rule_syntax(rule, col, registry.find)
        except FilterError as e:
            errs.add(name, "validation_invalid_rule", e.rule_message())
        except Exception:
            errs.add(name, "validation_invalid_rule", "Invalid rule.")


# -- view collections ---------------------------------------------------------------------------


def infer_view_fields(conn: apsw.Connection, col: Collection, registry: Registry) -> None:
    """Derive a view collection's fields from its SELECT, as PocketBase does (roughly).

    A column whose name matches a field of a collection named in the query takes that field's
    definition (so relations and files keep working); anything else becomes `json`.
    """
    query = col.viewQuery.strip().rstrip(";")
    if ";" in query:
        raise ApiError(
            400,
            "Failed to create collection.",
            {
                "viewQuery": validation_error(
                    "validation_invalid_view_query", "Only a single SELECT statement is allowed."
                )
            },
        )
    if not re.match(r"^\s*(SELECT|WITH)\b", query, re.IGNORECASE):
        raise ApiError(
            400,
            "Failed to create collection.",
            {
                "viewQuery": validation_error(
                    "validation_invalid_view_query", "The view query must be a SELECT statement."
                )
            },
        )
    # a temporary view tells the result columns without running the query
    try:
        conn.execute(f"CREATE TEMP VIEW `_core_view_probe` AS {query}")
        try:
            names = [row[1] for row in conn.execute("PRAGMA temp.table_info(`_core_view_probe`)")]
        finally:
            conn.execute("DROP VIEW temp.`_core_view_probe`")
    except apsw.Error as e:
        raise ApiError(
            400,
            "Failed to create collection.",
            {"viewQuery": validation_error("validation_invalid_view_query", f"Invalid query - {e}")},
        )
    if "id" not in names:
        raise ApiError(
            400,
            "Failed to create collection.",
            {
                "viewQuery": validation_error(
                    "validation_missing_view_id", "The view query must have an id column."
                )
            },
        )
    sources = [c for c in registry.all() if re.search(r"\b" + re.escape(c.name) + r"\b", query)]
    fields: list[Field] = []
    for name in names:
        if name == "id":
            fields.append(id_field())
            continue
        src = next((c.get_field(name) for c in sources if c.get_field(name) is not None), None)
        if src is not None and src.type not in ("password",):
            fields.append(Field.from_json({**src.to_json(), "system": False}))
        else:
            fields.append(Field(name=name, type="json"))
    col.fields = fields
    col.indexes = []
    col.createRule = col.updateRule = col.deleteRule = None


def auth_option_patch(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in AUTH_OPTION_KEYS if k in data}

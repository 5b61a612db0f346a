"""`@request.*` operands.

Most are static: the value is looked up in the request and bound as a parameter (missing keys
are NULL, never an error, as in PocketBase). Three kinds touch the database:
- `@request.auth.<field>` beyond id/collectionId/collectionName/email/emailVisibility/verified
  joins the auth record's row (so hidden fields and relations of the auth record work);
- `@request.body.<relation>.<field>` joins the records whose ids were sent;
- `@request.body.<field>:each` expands the sent array with json_each.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from core.store.filter import gostr
from core.store.filter.errors import FilterError
from core.store.filter.fieldnames import (
    CHANGED,
    EACH,
    ISSET,
    LENGTH,
    LOWER,
    get_field,
    is_multi_valuer,
    split_modifier,
)
from core.store.filter.operators import build_op
from core.store.filter.results import NULL, Join, NullFallback, Resolved, literal
from core.store.filter.sqlfrag import Frag, join, param, quote_ident, sql

if TYPE_CHECKING:
    from core.store.filter.resolver import Runner

# auth fields read from the request itself; any other `@request.auth.*` joins the auth record
PLAIN_AUTH_FIELDS = frozenset(
    "@request.auth." + f
    for f in ("id", "collectionId", "collectionName", "email", "emailVisibility", "verified")
)

_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_MISSING = object()


def resolve(r: Runner) -> Resolved:
    name = r.field_name
    req = r.scope.ctx.request
    if name.startswith("@request.auth."):
        return _auth_field(r)
    if name.startswith("@request.body.") and len(r.props) > 2:
        field_name, modifier = split_modifier(r.props[2])
        field = get_field(r.scope.collection, field_name)
        if field is not None:
            if field.type == "relation" and len(r.props) > 3:
                return _body_relation(r, field.name, str(field.opt("collectionId") or ""), field.is_multi)
            if len(r.props) == 3 and modifier in (EACH, LENGTH, LOWER, CHANGED):
                if modifier in (EACH, LENGTH) and not is_multi_valuer(field):
                    raise FilterError(
                        f"field {gostr.quote(field.name)} doesn't support multivalue operations"
                    )
                value = req.body.get(field.name)
                if modifier == EACH:
                    return _body_each(r, field.name, value, field.is_multi)
                if modifier == LENGTH:
                    return literal(str(len(_to_slice(value))))
                if modifier == LOWER:
                    return Resolved(sql("LOWER({})", param(gostr.to_string(value))))
                return _body_changed(r, field.name)
    return static_field(r, r.props[1:])


def static_data(r: Runner) -> dict[str, Any]:
    req = r.scope.ctx.request
    auth: dict[str, Any] | None = None
    if req.auth is not None:
        auth = dict(req.auth)
        if req.auth_collection is not None:
            auth["collectionId"] = req.auth_collection.id
            auth["collectionName"] = req.auth_collection.name
    return {
        "context": req.context,
        "method": req.method,
        "query": req.query,
        "headers": req.headers,
        "body": req.body,
        "auth": auth,
    }


def static_field(r: Runner, path: list[str]) -> Resolved:
    last, modifier = split_modifier(path[-1])
    path = [*path[:-1], last]
    value = _extract(static_data(r), path)
    if modifier == ISSET:
        return literal("FALSE" if value is _MISSING else "TRUE")
    if value is _MISSING:
        value = None

    if isinstance(value, str):
        # multipart bodies send numbers as text: compare them as numbers for number fields
        f = r.scope.collection.get_field(path[-1])
        if f is not None and f.type == "number":
            value = _parse_float(value, value)
    elif value is not None and not isinstance(value, bool | int | float):
        value = gostr.to_string(value) if isinstance(value, bytes) else gostr.json_marshal(value)

    if modifier and modifier != LOWER:
        raise FilterError(f"invalid modifier sequence {last}:{modifier}")
    if value is None:
        return literal(NULL)
    if modifier == LOWER:
        return Resolved(sql("LOWER({})", param(value)))
    return Resolved(param(value))


_FLOAT_RE = re.compile(
    r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)$", re.IGNORECASE
)


def _parse_float(s: str, default: Any) -> Any:
    """strconv.ParseFloat's accepted decimal syntax (Python's float() is more lenient)."""
    return float(s) if _FLOAT_RE.fullmatch(s) else default


def _extract(data: Any, keys: list[str]) -> Any:
    for key in keys:
        if isinstance(data, dict):
            if key not in data:
                return _MISSING
            data = data[key]
        elif isinstance(data, list | tuple):
            if not _INT_RE.fullmatch(key) or not 0 <= int(key) < len(data):
                return _MISSING
            data = data[int(key)]
        else:
            return _MISSING
    return data


def _to_slice(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _unique_strings(value: Any) -> list[str]:
    """list.ToUniqueStringSlice: ids from a string, a JSON array string or a list; no empties."""
    items: list[Any]
    if value is None:
        items = []
    elif isinstance(value, str):
        items = [value]
        if "[" in value:
            try:
                decoded = json.loads(value)
                if isinstance(decoded, list):
                    items = decoded
            except ValueError:
                pass
    else:
        items = _to_slice(value)
    out: list[str] = []
    for v in items:
        s = gostr.to_string(v)
        if s and s not in out:
            out.append(s)
    return out


def _auth_field(r: Runner) -> Resolved:
    req = r.scope.ctx.request
    if req.auth is None or req.auth_collection is None:
        return literal(NULL)
    if r.field_name in PLAIN_AUTH_FIELDS:
        return static_field(r, r.props[1:])

    collection = req.auth_collection
    alias = r.alias("__auth_" + collection.name)
    auth_id = str(req.auth.get("id", ""))
    table = Frag(quote_ident(collection.name))
    r.scope.register_join(Join(alias, table, sql(f'{quote_ident(alias)}."id" = {{}}', param(auth_id))))
    r.mm_alias = "__mm_" + alias
    r.multi_match.joins.append(
        Join(r.mm_alias, table, sql(f'{quote_ident(r.mm_alias)}."id" = {{}}', param(auth_id)))
    )
    r.enter(collection, alias)
    return r.process_active_props(r.props[2:])


def _body_relation(r: Runner, field_name: str, collection_id: str, multiple: bool) -> Resolved:
    rel = r.find(collection_id)
    if rel is None:
        raise FilterError(
            f"failed to load collection {gostr.quote(collection_id)} from data field {gostr.quote(field_name)}"
        )
    ids = _unique_strings(r.scope.ctx.request.body.get(field_name))
    if not ids:
        return literal(NULL)
    alias = r.alias("__data_" + rel.name + "_" + field_name)
    mm_alias = r.alias("__data_mm_" + rel.name + "_" + field_name)
    table = Frag(quote_ident(rel.name))

    def in_ids(ref: str) -> Frag:
        return sql(f'{ref}."id" IN ({{}})', join(", ", [param(i) for i in ids]))

    r.scope.register_join(Join(alias, table, in_ids(quote_ident(alias))))
    if multiple:
        r.with_multi_match = True
    r.multi_match.joins.append(Join(mm_alias, table, in_ids(quote_ident(mm_alias))))
    r.mm_alias = mm_alias
    r.enter(rel, alias)
    return r.process_active_props(r.props[3:])


def _body_each(r: Runner, field_name: str, value: Any, multiple: bool) -> Resolved:
    raw = gostr.json_marshal(_to_slice(value))
    alias = r.alias("__dataEach_" + field_name + "_je")
    r.scope.register_join(Join(alias, sql("json_each({})", param(raw))))
    result = Resolved(Frag(f'{quote_ident(alias)}."value"'))
    if multiple:
        r.with_multi_match = True
    if r.with_multi_match:
        mm_alias = "__mm" + alias
        r.multi_match.joins.append(Join(mm_alias, sql("json_each({})", param(raw))))
        r.multi_match.value = Frag(f'{quote_ident(mm_alias)}."value"')
        result.multi_match = r.multi_match
    return result


def _body_changed(r: Runner, field_name: str) -> Resolved:
    """`@request.body.f:changed`: f was sent and differs from the stored value.

    PocketBase 0.40 builds it as `(<f:isset> = 1 AND <body f> != <column f>)`, compared as-is
    (no empty/NULL folding on the outside, hence `:changed = false` becomes `IS 0`).
    """
    isset = static_field(r, ["body", field_name + ":isset"])
    sent = static_field(r, ["body", field_name])
    stored = r.process_last_prop(r.scope.collection, field_name)
    expr = sql("({} AND {})", build_op(isset, "=", literal("1")), build_op(sent, "!=", stored))
    return Resolved(expr, NullFallback.DISABLED)

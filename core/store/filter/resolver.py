"""Field names to SQL operands: PocketBase's RecordFieldResolver runner (core/record_field_resolver*).

Every identifier is checked against the schema (unknown field -> FilterError) and emitted as a
quoted column of a known alias; user text never becomes SQL. Supported shapes:

    title, title:lower, tags:each, tags:length, meta.a.b (json path), location.lon
    author.name, author.friends.name (relations, up to 6 hops), comments_via_post.message
    @collection.users.name, @collection.users:alias.name
    @request.auth.*, @request.body.*, @request.query.*, @request.headers.*, @request.method, ...
"""

from __future__ import annotations

import re

from core.store.filter import gostr, request_fields
from core.store.filter.errors import FilterError
from core.store.filter.fieldnames import (
    EACH,
    LENGTH,
    LOWER,
    columnify,
    get_field,
    is_multi_valuer,
    split_modifier,
)
from core.store.filter.results import NULL, Join, MultiMatch, NullFallback, Resolved, Scope, literal
from core.store.filter.simple import resolve_simple
from core.store.filter.sqlfrag import Frag, column, quote_ident, sql
from core.store.filter.sqljson import json_array_length, json_each, json_extract
from core.store.schema import Collection, Field

MAX_NESTED_RELS = 6

# re.ASCII: Go's \w is [0-9A-Za-z_]
ALLOWED_FIELDS = [
    re.compile(p, re.ASCII)
    for p in (
        r"^\w+[\w\.\:]*$",
        r"^@request\.context$",
        r"^@request\.method$",
        r"^@request\.auth\.[\w\.\:]*\w+$",
        r"^@request\.body\.[\w\.\:]*\w+$",
        r"^@request\.query\.[\w\.\:]*\w+$",
        r"^@request\.headers\.[\w\.\:]*\w+$",
        r"^@collection\.\w+(\:\w+)?\.[\w\.\:]*\w+$",
    )
]
VIA_RE = re.compile(r"^(\w+)_via_(\w+)$", re.ASCII)
_INT_RE = re.compile(r"^[+-]?[0-9]+$")


class Runner:
    """Resolves one field name; shares the joins of its scope (one Runner per operand)."""

    def __init__(self, scope: Scope, field_name: str) -> None:
        self.scope = scope
        self.field_name = field_name
        self.props = field_name.split(".")
        self.collection = scope.collection
        self.alias_ref = scope.base_ref  # SQL text of the active alias
        self.alias_key = scope.key  # name used to derive join aliases
        is_system = self.props[0] in ("@collection", "@request")
        # @collection/@request filters are written by the app developer, not the client
        self.allow_hidden = scope.allow_hidden or is_system
        # missing @request.* fields resolve to NULL instead of failing (PocketBase compat)
        self.nullify_missing = self.props[0] == "@request"
        self.with_multi_match = False
        mm_alias = "__mm_" + scope.key
        self.multi_match = MultiMatch(quote_ident(scope.collection.name), mm_alias, scope.base_ref)
        self.mm_alias = mm_alias

    # -- entry -----------------------------------------------------------------------------

    def run(self) -> Resolved:
        if not any(p.fullmatch(self.field_name) for p in ALLOWED_FIELDS):
            raise FilterError(f"failed to resolve field {gostr.quote(self.field_name)}")
        if self.props[0] == "@collection":
            return self.process_collection_field()
        if self.props[0] == "@request":
            return request_fields.resolve(self)
        return self.process_active_props(self.props)

    def find(self, name_or_id: str) -> Collection | None:
        base = self.scope.collection
        if name_or_id in (base.name, base.id):
            return base
        return self.scope.ctx.find_collection(name_or_id)

    def nullable_error(self, message: str) -> Resolved:
        if self.nullify_missing:
            return literal(NULL)
        raise FilterError(message)

    def alias(self, name: str) -> str:
        """A non-derived join alias, unique per scope."""
        return name + self.scope.suffix

    # -- @collection.name[:alias].field ----------------------------------------------------------

    def process_collection_field(self) -> Resolved:
        if len(self.props) < 3:
            raise FilterError(f"invalid @collection field path in {gostr.quote(self.field_name)}")
        name, _, user_alias = self.props[1].partition(":")
        collection = self.find(name)
        if collection is None:
            raise FilterError(
                f"failed to load collection {gostr.quote(self.props[1])} from field path {gostr.quote(self.field_name)}"
            )
        key = "__collection_alias_" + user_alias if user_alias else "__collection_" + collection.name
        alias = self.alias(key)
        # no ON clause: every row of that collection is a candidate
        self.scope.register_join(Join(alias, Frag(quote_ident(collection.name))), collection)
        self.with_multi_match = True
        self.mm_alias = "__mm" + alias
        self.multi_match.joins.append(Join(self.mm_alias, Frag(quote_ident(collection.name))))
        self.enter(collection, alias)
        return self.process_active_props(self.props[2:])

    def enter(self, collection: Collection, alias: str) -> None:
        self.collection = collection
        self.alias_ref = quote_ident(alias)
        self.alias_key = alias

    # -- relation walking ---------------------------------------------------------------------

    def process_active_props(self, props: list[str]) -> Resolved:
        total = len(props)
        for i, prop in enumerate(props):
            collection = self.collection
            if i == total - 1:
                return self.process_last_prop(collection, prop)

            field = get_field(collection, prop)
            if field is not None and field.hidden and not self.allow_hidden:
                raise FilterError(f"non-filterable field {gostr.quote(prop)}")

            if field is not None and field.type in ("json", "geoPoint"):
                return self.json_path(field, props[i + 1 :])

            if i >= MAX_NESTED_RELS:
                raise FilterError(f"max nested relations reached for field {gostr.quote(prop)}")

            if field is None:
                done = self.walk_back_relation(collection, prop)
                if done is not None:
                    return done
                continue

            if field.type != "relation":
                raise FilterError(f"field {gostr.quote(prop)} is not a valid relation")
            rel_collection = self.find(str(field.opt("collectionId") or ""))
            if rel_collection is None:
                raise FilterError(f"failed to load field {gostr.quote(prop)} collection")
            # `author.id` is the `author` column itself: no join (and so no listRule either)
            if not field.is_multi and i == total - 2 and props[i + 1] == "id":
                return self.process_last_prop(collection, field.name)
            self.walk_relation(field, rel_collection)
        raise FilterError(f"failed to resolve field {gostr.quote(self.field_name)}")

    def walk_relation(self, field: Field, rel: Collection) -> None:
        name = columnify(field.name)
        col = column(self.alias_ref, field.name)
        new_alias = self.alias_key + "_" + name
        new_ref = quote_ident(new_alias)
        if not field.is_multi:
            on = sql(f'{new_ref}."id" = {{}}', col)
            self.scope.register_join(Join(new_alias, Frag(quote_ident(rel.name)), on), rel)
        else:
            je = "__je_" + self.alias_key + "_" + name
            self.scope.register_join(Join(je, json_each(col)))
            on = Frag(f'{new_ref}."id" = {quote_ident(je)}."value"')
            self.scope.register_join(Join(new_alias, Frag(quote_ident(rel.name)), on), rel)
            self.with_multi_match = True

        mm_new = self.mm_alias + "_" + name
        mm_col = column(quote_ident(self.mm_alias), field.name)
        if not field.is_multi:
            on = sql(f'{quote_ident(mm_new)}."id" = {{}}', mm_col)
            self.multi_match.joins.append(Join(mm_new, Frag(quote_ident(rel.name)), on))
        else:
            mm_je = self.mm_alias + "_" + name + "_je"
            self.multi_match.joins.append(Join(mm_je, json_each(mm_col)))
            on = Frag(f'{quote_ident(mm_new)}."id" = {quote_ident(mm_je)}."value"')
            self.multi_match.joins.append(Join(mm_new, Frag(quote_ident(rel.name)), on))
        self.mm_alias = mm_new
        self.enter(rel, new_alias)

    def walk_back_relation(self, collection: Collection, prop: str) -> Resolved | None:
        """`comments_via_post`: the records of `comments` whose `post` points here."""
        m = VIA_RE.fullmatch(prop)
        if m is None:
            return self.nullable_error(f"failed to resolve field {gostr.quote(prop)}")
        back = self.find(m.group(1))
        if back is None:
            return self.nullable_error(f"failed to load back relation field {gostr.quote(prop)} collection")
        back_field = back.get_field(m.group(2))
        if back_field is None:
            return self.nullable_error(f"missing back relation field {gostr.quote(m.group(2))}")
        if back_field.type != "relation":
            return self.nullable_error(f"invalid back relation field {gostr.quote(m.group(2))}")
        if back_field.hidden and not self.allow_hidden:
            raise FilterError(f"non-filterable back relation field {gostr.quote(back_field.name)}")
        if back_field.opt("collectionId") != collection.id:
            return self.nullable_error(
                f"invalid collection reference of a back relation field {gostr.quote(back_field.name)}"
            )

        # a single relation with a unique index means at most one back record: no "all" check
        multiple = back_field.is_multi or not has_single_column_unique_index(back, back_field.name)
        name = columnify(prop)
        new_alias = self.alias_key + "_" + name
        new_ref = quote_ident(new_alias)
        self.scope.register_join(
            Join(
                new_alias,
                Frag(quote_ident(back.name)),
                self.back_on(new_ref, back_field, self.alias_ref, multiple),
            ),
            back,
        )
        mm_new = self.mm_alias + "_" + name
        self.multi_match.joins.append(
            Join(
                mm_new,
                Frag(quote_ident(back.name)),
                self.back_on(quote_ident(mm_new), back_field, quote_ident(self.mm_alias), multiple),
            )
        )
        if multiple:
            self.with_multi_match = True
        self.mm_alias = mm_new
        self.enter(back, new_alias)
        return None

    def back_on(self, back_ref: str, back_field: Field, active_ref: str, multiple: bool) -> Frag:
        col = column(back_ref, back_field.name)
        if not multiple:
            return sql(f'{{}} = {active_ref}."id"', col)
        je = quote_ident(self.scope.unique("__bje"))
        return sql(f'{active_ref}."id" IN (SELECT {je}."value" FROM {{}} {je})', json_each(col))

    def json_path(self, field: Field, rest: list[str]) -> Resolved:
        path = json_path(rest)
        result = Resolved(json_extract(column(self.alias_ref, field.name), path), NullFallback.DISABLED)
        if self.with_multi_match:
            self.multi_match.value = json_extract(column(quote_ident(self.mm_alias), field.name), path)
            result.multi_match = self.multi_match
        return result

    # -- the last prop ----------------------------------------------------------------------

    def process_last_prop(self, collection: Collection, prop: str) -> Resolved:
        name, modifier = split_modifier(prop)
        field = get_field(collection, name)
        if field is None:
            return self.nullable_error(f"unknown field {gostr.quote(name)}")
        if field.hidden and not self.allow_hidden:
            raise FilterError(f"non-filterable field {gostr.quote(name)}")

        col = column(self.alias_ref, field.name)
        mm_col = column(quote_ident(self.mm_alias), field.name)

        if modifier == LENGTH and is_multi_valuer(field):
            result = Resolved(json_array_length(col))
            if self.with_multi_match:
                self.multi_match.value = json_array_length(mm_col)
                result.multi_match = self.multi_match
            return result

        if modifier == EACH and is_multi_valuer(field):
            je = "__je_" + self.alias_key + "_" + columnify(field.name)
            self.scope.register_join(Join(je, json_each(col)))
            result = Resolved(Frag(f'{quote_ident(je)}."value"'))
            if field.is_multi:
                self.with_multi_match = True
            if self.with_multi_match:
                mm_je = "__je_" + self.mm_alias + "_" + columnify(field.name)
                self.multi_match.joins.append(Join(mm_je, json_each(mm_col)))
                self.multi_match.value = Frag(f'{quote_ident(mm_je)}."value"')
                result.multi_match = self.multi_match
            return result

        # :isset/:changed on a record field (and :each/:length on other types) are ignored
        result = Resolved(col)
        mm_value = mm_col
        if field.name == "email" and collection.is_auth and not self.allow_hidden:
            # clients may only match emails their owners made public (PocketBase's AfterBuild);
            # a sort reads the same condition (see sort.py)
            visibility = sql("{} = TRUE", column(self.alias_ref, "emailVisibility"))
            result.visible_when = visibility
            result.after_build = lambda expr: sql("(({}) AND ({}))", expr, visibility)
        if field.type == "json":
            # json_extract so that top-level primitives compare like their SQL equivalents
            result.null_fallback = NullFallback.DISABLED
            result.ident = json_extract(col, "")
            mm_value = json_extract(mm_col, "")
        if modifier == LOWER:
            result.ident = sql("LOWER({})", result.ident)
            mm_value = sql("LOWER({})", mm_value)
        if self.with_multi_match:
            self.multi_match.value = mm_value
            result.multi_match = self.multi_match
        return result


def json_path(props: list[str]) -> str:
    out: list[str] = []
    for j, p in enumerate(props):
        p = columnify(p)
        if _INT_RE.fullmatch(p):
            out.append(f"[{p}]")
        else:
            out.append(("." if j > 0 else "") + p)
    return "".join(out)


_UNIQUE_INDEX_RE = re.compile(
    r"^\s*CREATE\s+UNIQUE\s+INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?\S+\s+ON\s+\S+?\s*\((?P<cols>[^)]*)\)",
    re.IGNORECASE | re.DOTALL,
)


def has_single_column_unique_index(collection: Collection, column_name: str) -> bool:
    for idx in collection.indexes:
        m = _UNIQUE_INDEX_RE.match(idx)
        if m is None:
            continue
        cols = [c.strip() for c in m.group("cols").split(",") if c.strip()]
        if len(cols) != 1:
            continue
        name = re.split(r"\s+", cols[0])[0].strip("`\"[]'")
        if name.lower() == column_name.lower():
            return True
    return False


def resolve_field(scope: Scope, name: str) -> Resolved:
    if scope.ctx.allowed_fields is not None:
        return resolve_simple(scope.ctx, name)
    return Runner(scope, name).run()

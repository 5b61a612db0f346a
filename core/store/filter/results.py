"""What resolving one operand produces, and the per-compile state the resolvers share.

These mirror PocketBase's `search.ResolverResult`, its multi-match subquery and the resolver's
join list, because the SQL semantics live in them:
- joins are shared by the whole filter and de-duplicated by alias, so `tags:each ?= 'a' &&
  tags:each ?= 'b'` tests both on the same array item (and matches nothing) — as in PocketBase;
- a multi-valued operand carries an independent subquery listing all its values, used to
  turn a plain operator into "every item matches" (`?op` skips it: "at least one").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from core.store.filter.context import FilterContext
from core.store.filter.sqlfrag import Frag, join, quote_ident, sql
from core.store.schema import Collection


class NullFallback(Enum):
    """How `=`/`!=` treat NULL vs '' for an operand (PocketBase's NullFallbackPreference)."""

    AUTO = "auto"  # '' and NULL are the same "empty" value
    DISABLED = "disabled"  # compare with IS / IS NOT as-is (json values, geoDistance)
    ENFORCED = "enforced"  # never assume non-empty (strftime may return NULL)


@dataclass
class Join:
    alias: str  # unquoted
    table: Frag  # a quoted table name or a table-valued function call
    on: Frag | None = None

    def build(self) -> Frag:
        out = sql("LEFT JOIN {} {}", self.table, quote_ident(self.alias))
        return out if self.on is None else out + " ON " + self.on


@dataclass
class MultiMatch:
    """A subquery listing every value of a multi-valued operand for the current main row."""

    from_table: str  # quoted
    from_alias: str  # unquoted
    base_ref: str  # SQL naming the main row the subquery is correlated to
    joins: list[Join] = field(default_factory=list)
    value: Frag | None = None

    def build(self) -> Frag:
        assert self.value is not None
        joins = join(" ", [j.build() for j in self.joins])
        alias = quote_ident(self.from_alias)
        return sql(
            f'SELECT {{}} AS "multiMatchValue" FROM {self.from_table} {alias} {{}} '
            f'WHERE {alias}."id" = {self.base_ref}."id"',
            self.value,
            joins,
        )


@dataclass
class Resolved:
    ident: Frag
    null_fallback: NullFallback = NullFallback.AUTO
    multi_match: MultiMatch | None = None
    after_build: Callable[[Frag], Frag] | None = None
    # SQL that is true when the caller may see this operand's value (None = always): an auth
    # record's `email` for a non-superuser client, visible only with emailVisibility
    visible_when: Frag | None = None


NULL = "NULL"


def literal(text: str) -> Resolved:
    """An SQL keyword/number operand without parameters (NULL, TRUE, 1, ...)."""
    return Resolved(Frag(text))


@dataclass
class Counter:
    n: int = 0

    def next(self) -> int:
        self.n += 1
        return self.n


@dataclass
class Scope:
    """One resolver: a base collection seen through an SQL alias, plus the joins it registered.

    The main filter has one scope; each related collection whose listRule must be applied to a
    client filter gets its own (PocketBase clones the resolver with the join alias as base).
    """

    ctx: FilterContext
    collection: Collection
    base_ref: str  # SQL naming the base row (the caller's alias, or a join alias)
    key: str  # prefix for aliases derived from relation paths
    suffix: str  # appended to the other generated aliases, unique per scope
    allow_hidden: bool
    counter: Counter
    joins: dict[str, Join] = field(default_factory=dict)
    list_rule_joins: dict[str, Collection] = field(default_factory=dict)

    def register_join(self, j: Join, collection: Collection | None = None) -> None:
        """Add (or replace, keeping its place) the join with this alias.

        `collection` is the collection whose table is joined: for a client filter of a
        non-superuser its listRule is applied to the joined rows, and a null (superuser-only)
        listRule makes the field unreachable — PocketBase 0.40 behaviour.
        """
        if collection is not None and not self.allow_hidden:
            if collection.listRule is None:
                raise_locked(collection)
            self.list_rule_joins[j.alias] = collection
        self.joins[j.alias] = j

    def unique(self, prefix: str) -> str:
        return f"{prefix}{self.counter.next()}"


def raise_locked(collection: Collection) -> None:
    from core.store.filter.errors import FilterError

    raise FilterError(
        f'"{collection.name}" fields can be accessed only when allowHiddenFields is enabled or by superusers'
    )

"""Field names of a fixed list: PocketBase's SimpleFieldResolver (tools/search/simple_field_resolver.go).

The lists that are not records (`/api/collections`, `/api/logs`) accept only the names PocketBase
lists for them, e.g. `id, created, updated, name, system, type` for collections. An entry is a
plain name, or a regexp when it starts with `^` and ends with `$` (logs allow `^data\\.[\\w\\.\\:]*\\w+$`).
A plain name becomes the column; a dotted name is a json path into its first part's column:
`data.auth.0` -> `JSON_EXTRACT(data, '$.auth[0]')`. There are no modifiers, relations or
`@request.*`/`@collection.*` here: anything not listed fails to resolve (a 400 for the client),
while `@now` & co, `true`/`false`/`null`, literals and functions work as in every filter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from core.store.filter import gostr
from core.store.filter.context import FilterContext
from core.store.filter.errors import FilterError
from core.store.filter.results import NullFallback, Resolved
from core.store.filter.sqlfrag import Frag, column
from core.store.schema import Collection

# inflector.Columnify: drop every character outside [\w.*\-_@#] (Go's \w is ASCII)
_COLUMNIFY_DROP = re.compile(r"[^\w.*\-_@#]+", re.ASCII)
# strconv.Atoi: an optional sign and ASCII digits
_ATOI = re.compile(r"[+-]?[0-9]+", re.ASCII)


def simple_context(table_alias: str, allowed_fields: Sequence[str]) -> FilterContext:
    """A context for a superuser-only list whose filterable names are exactly `allowed_fields`."""
    return FilterContext(
        collection=Collection(name="", id="-"),
        table_alias=table_alias,
        find_collection=lambda _name: None,
        is_superuser=True,
        client_filter=True,
        allowed_fields=tuple(allowed_fields),
    )


def is_allowed(name: str, allowed: Sequence[str]) -> bool:
    """list.ExistInSliceWithRegex: exact match, or a full match of a `^...$` entry."""
    for entry in allowed:
        if entry.startswith("^") and entry.endswith("$"):
            if _pattern(entry).fullmatch(name):
                return True
        elif name == entry:
            return True
    return False


@cache
def _pattern(entry: str) -> re.Pattern[str]:
    # fullmatch stands for the anchors (Python's `$` would also accept a trailing newline)
    return re.compile(entry[1:-1], re.ASCII)


def columnify(name: str) -> str:
    return _COLUMNIFY_DROP.sub("", name)


def resolve_simple(ctx: FilterContext, name: str) -> Resolved:
    allowed = ctx.allowed_fields or ()
    if not is_allowed(name, allowed):
        raise FilterError(f"failed to resolve field {gostr.quote(name)}")
    first, *path = name.split(".")
    col = column(ctx.table_alias, columnify(first))
    if not path:
        return Resolved(col)
    json_path = "$" + "".join(f"[{columnify(p)}]" if _ATOI.fullmatch(p) else f".{columnify(p)}" for p in path)
    # columnify leaves no quote in the path, so it is inlined like PocketBase does (a sort key
    # must be parameter-free)
    return Resolved(Frag(f"JSON_EXTRACT({col.sql}, '{json_path}')"), NullFallback.DISABLED)

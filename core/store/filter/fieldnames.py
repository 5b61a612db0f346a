"""Field name helpers shared by the resolvers: modifiers and schema lookups."""

from __future__ import annotations

from core.store.filter import gostr
from core.store.filter.errors import FilterError
from core.store.schema import Collection, Field

EACH, ISSET, LENGTH, LOWER, CHANGED = "each", "isset", "length", "lower", "changed"
MODIFIERS = (ISSET, EACH, LENGTH, LOWER, CHANGED)

MULTI_VALUER_TYPES = ("select", "file", "relation")


def split_modifier(combined: str) -> tuple[str, str]:
    """`tags:each` -> (`tags`, `each`); an unknown modifier is an error."""
    parts = combined.split(":")
    if len(parts) != 2:
        # `a:b:c` is not an error here: it is looked up (and not found) as a field name
        return combined, ""
    if parts[1] in MODIFIERS:
        return parts[0], parts[1]
    raise FilterError(f"unknown modifier in {gostr.quote(combined)}")


def columnify(name: str) -> str:
    # PocketBase's inflector.Columnify, for the characters an identifier can contain
    return name.replace(":", "")


def get_field(collection: Collection, name: str) -> Field | None:
    f = collection.get_field(name)
    if f is None and name == "id":
        # every record table has an id column, even if a caller's schema omits the field
        return Field(name="id", type="text", system=True)
    return f


def is_multi_valuer(f: Field) -> bool:
    """select/file/relation fields support :each and :length whatever their maxSelect."""
    return f.type in MULTI_VALUER_TYPES

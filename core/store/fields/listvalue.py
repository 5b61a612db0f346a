"""Shared behaviour of select and relation: a set of strings, single or multiple.

`maxSelect <= 1` keeps one string (the LAST one given, as PocketBase does), `> 1` keeps a
de-duplicated list stored as JSON text. `field+` appends, `+field` prepends, `field-` removes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core.store.fields.base import FieldType, int_option
from core.store.fields.cast import go_json_dumps, to_unique_string_slice
from core.store.schema import Field


def is_multi(field: Field) -> bool:
    return int_option(field, "maxSelect") > 1


def max_select(field: Field) -> int:
    return max(int_option(field, "maxSelect"), 1)


def multi_column(field: Field) -> str:
    return "JSON DEFAULT '[]' NOT NULL" if is_multi(field) else "TEXT DEFAULT '' NOT NULL"


class ListFieldType(FieldType):
    """One value or a list of them (select, relation, file): the LAST one when single.

    Subclasses say how raw input becomes items and what identifies an item for `field-`.
    """

    modifiers = frozenset({"+", "prepend", "-"})

    def items(self, raw: Any) -> list[Any]:
        raise NotImplementedError

    def item_key(self, item: Any) -> str:
        return str(item)

    def column_type(self, field: Field) -> str:
        return multi_column(field)

    def zero(self, field: Field) -> Any:
        return [] if is_multi(field) else ""

    def reader(self, field: Field) -> Callable[[Any], Any]:
        from_db = super().reader(field)
        if is_multi(field):
            return from_db

        def read(raw: Any) -> Any:
            # a single value is stored as the name or id itself: [raw], last item, is raw
            if type(raw) is str and "[" not in raw:
                return raw
            return from_db(raw)

        return read

    def normalize(self, field: Field, raw: Any) -> Any:
        values = self.items(raw)
        if is_multi(field):
            return values
        return values[-1] if values else ""

    def apply_modifier(self, field: Field, current: Any, modifier: str, value: Any) -> Any:
        have, given = self.items(current), self.items(value)
        if modifier == "+":
            return self.normalize(field, have + given)
        if modifier == "prepend":
            return self.normalize(field, given + have)
        if modifier == "-":
            removed = {self.item_key(g) for g in given}
            return self.normalize(field, [h for h in have if self.item_key(h) not in removed])
        return super().apply_modifier(field, current, modifier, value)


class StringListType(ListFieldType):
    def items(self, raw: Any) -> list[Any]:
        return to_unique_string_slice(raw)

    def to_db(self, field: Field, value: Any) -> Any:
        values = to_unique_string_slice(value)
        if is_multi(field):
            return go_json_dumps(values)
        return values[-1] if values else ""

    def from_db(self, field: Field, raw: Any) -> Any:
        if isinstance(raw, bytes):
            raw = raw.decode()
        if is_multi(field) and isinstance(raw, str) and raw.startswith("["):
            try:
                return to_unique_string_slice(json.loads(raw))
            except ValueError:
                pass
        return self.normalize(field, raw)

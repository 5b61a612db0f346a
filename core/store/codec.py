"""Per-collection codecs: a collection's fields turned once into the callables the per-row loops
run (stored value -> API value, record value -> SQLite parameter), instead of a type lookup and
an options walk per field per row.

A codec is built on first use and kept on the Collection object. The registry builds new
Collection objects whenever the collections change (core/store/collections.py: Registry.load),
so a schema change brings new codecs with it; the key below also notices a field list replaced
or extended in place on an object not yet registered.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from typing import Any

from core.store.fields import FieldType, ValidationContext, field_type
from core.store.schema import Collection, Field

AUTH_SECRET_FIELDS = ("password", "tokenKey")

Convert = Callable[[Any], Any]


class RecordCodec:
    __slots__ = (
        "key",
        "readers",
        "public_readers",
        "all_readers",
        "writers",
        "by_name",
        "validators",
        "zeros",
        "stamped_on_create",
        "stamped_on_update",
        "generated",
    )

    def __init__(self, col: Collection, key: tuple[int, int]) -> None:
        self.key = key
        # every field, hidden and secret ones included (validation, hooks)
        self.all_readers: list[tuple[str, Convert]] = [
            (f.name, field_type(f.type).reader(f)) for f in col.fields
        ]
        shown = [
            (f, read)
            for f, (_, read) in zip(col.fields, self.all_readers, strict=True)
            if not (col.is_auth and f.name in AUTH_SECRET_FIELDS)
        ]
        # what a superuser sees, and what anyone else sees (no hidden fields)
        self.readers: list[tuple[str, Convert]] = [(f.name, read) for f, read in shown]
        self.public_readers: list[tuple[str, Convert]] = [(f.name, read) for f, read in shown if not f.hidden]
        self.writers: list[tuple[str, Convert]] = [(f.name, field_type(f.type).writer(f)) for f in col.fields]
        self.by_name: dict[str, tuple[Field, FieldType]] = {
            f.name: (f, field_type(f.type)) for f in col.fields
        }
        self.validators: list[tuple[Field, Callable[[Field, Any, ValidationContext], None]]] = [
            (f, field_type(f.type).validate) for f in col.fields
        ]
        self.zeros: list[tuple[str, Any]] = [(f.name, field_type(f.type).zero(f)) for f in col.fields]
        # autodates a create (onCreate) and an update (onUpdate) set to now: an onUpdate-only
        # field stays "" until the first update (AutodateField.Intercept); text fields a create
        # fills from their autogeneratePattern
        autodates = [f for f in col.fields if f.type == "autodate"]
        self.stamped_on_create = [f.name for f in autodates if f.opt("onCreate")]
        self.stamped_on_update = [f.name for f in autodates if f.opt("onUpdate")]
        self.generated: list[tuple[str, str]] = [
            (f.name, str(f.opt("autogeneratePattern")))
            for f in col.fields
            if f.type == "text" and f.opt("autogeneratePattern")
        ]

    def __deepcopy__(self, memo: dict[int, Any]) -> None:
        # a deep copy of a collection (a schema change in the making) builds codecs of its own
        return None

    def new_values(self) -> dict[str, Any]:
        """Every field at its zero value (a record before the body is applied)."""
        # lists and objects are copied: the caller may change them in place
        return {name: copy(zero) if isinstance(zero, list | dict) else zero for name, zero in self.zeros}


def codec_of(col: Collection) -> RecordCodec:
    key = (id(col.fields), len(col.fields))
    codec: RecordCodec | None = col.__dict__.get("_codec")
    if codec is None or codec.key != key:
        codec = RecordCodec(col, key)
        col.__dict__["_codec"] = codec
    return codec

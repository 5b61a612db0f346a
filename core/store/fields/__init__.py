"""Record field types: one module per PocketBase field type, looked up by type name.

    ft = field_type(field.type)
    value = ft.normalize(field, raw)          # request input -> record value
    ft.validate(field, value, ctx)            # raises FieldError
    ft.to_db(field, value) / ft.from_db(field, raw)

See `base.FieldType` for the contract and each module for its type's PocketBase quirks.
"""

from __future__ import annotations

from core.store.fields.autodate import AutodateType
from core.store.fields.base import FieldError, FieldType, ValidationContext
from core.store.fields.bool import BoolType
from core.store.fields.date import DateType, now_datetime
from core.store.fields.editor import EditorType
from core.store.fields.email import EmailType
from core.store.fields.file import FileType, UploadedFile, stored_name
from core.store.fields.geopoint import GeoPointType
from core.store.fields.json import JsonType
from core.store.fields.number import NumberType
from core.store.fields.password import PasswordType, PlainPassword
from core.store.fields.relation import RelationType
from core.store.fields.select import SelectType
from core.store.fields.text import TextType, autogenerate, generate_from_pattern
from core.store.fields.url import UrlType

__all__ = [
    "FieldError",
    "FieldType",
    "PlainPassword",
    "UploadedFile",
    "ValidationContext",
    "autogenerate",
    "field_type",
    "field_types",
    "generate_from_pattern",
    "now_datetime",
    "split_modifier",
    "stored_name",
]

_REGISTRY: dict[str, FieldType] = {
    t.name: t
    for t in (
        TextType(),
        NumberType(),
        BoolType(),
        EmailType(),
        UrlType(),
        EditorType(),
        DateType(),
        AutodateType(),
        SelectType(),
        FileType(),
        RelationType(),
        JsonType(),
        PasswordType(),
        GeoPointType(),
    )
}


def field_type(type_name: str) -> FieldType:
    """The FieldType for a PocketBase type name; KeyError for an unknown one."""
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise KeyError(f"unknown field type {type_name!r}") from None


def field_types() -> dict[str, FieldType]:
    return dict(_REGISTRY)


def split_modifier(key: str) -> tuple[str, str | None]:
    """A request body key as (field name, modifier): `tags+` -> ("tags", "+"),
    `+tags` -> ("tags", "prepend"), `n-` -> ("n", "-"), `slug:autogenerate` -> ("slug", "autogenerate")."""
    if key.endswith(":autogenerate"):
        return key[: -len(":autogenerate")], "autogenerate"
    if key.endswith("+"):
        return key[:-1], "+"
    if key.startswith("+"):
        return key[1:], "prepend"
    if key.endswith("-"):
        return key[:-1], "-"
    return key, None

"""What every field type provides, and the one error type they raise.

PocketBase keeps each field type's storage, casting and validation together (`core/field_*.go`);
`FieldType` is that contract here. Values move through it like this:

    request JSON/multipart --normalize--> python value --validate--> ok / FieldError
    python value --to_db--> SQLite parameter;  SQLite value --from_db--> API JSON value

A "normalized" value is what PocketBase would hold in the record after `record.Set`: a str for
text-like fields, a number (int when integral, like Go prints a float64), bool, list[str] for
multi select/relation (files may also hold `UploadedFile`s), a parsed JSON value for json,
{"lon","lat"} for geoPoint, a `PlainPassword` for a new password. `from_db` returns the same
shapes (except password: always ""), so a stored record can be validated and written back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from core.store.schema import Collection, Field

# The largest integer a JSON number can carry exactly (2^53-1): PocketBase's cap for size options.
MAX_SAFE_JSON_INT = 9007199254740991

FindCollection = Callable[[str], Collection | None]


class FieldError(Exception):
    """One field's validation error, rendered as PocketBase's `{code, message, params?}`.

    `nested` is for list options whose items fail one by one (PocketBase answers
    `{"thumbs": {"1": {code, message}}}`); such an error renders as that mapping.
    """

    def __init__(
        self,
        code: str,
        message: str,
        params: dict[str, Any] | None = None,
        nested: dict[str, FieldError] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params
        self.nested = nested

    def to_json(self) -> dict[str, Any]:
        if self.nested is not None:
            return {k: v.to_json() for k, v in self.nested.items()}
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.params is not None:
            out["params"] = self.params
        return out

    def __repr__(self) -> str:
        return f"FieldError({self.code!r}, {self.message!r}, {self.params!r})"


@dataclass
class ValidationContext:
    collection: Collection
    is_new: bool
    # the stored record (normalized values) before this change, None on create
    old: dict[str, Any] | None
    find_collection: FindCollection
    # which of these ids exist in that collection (relations)
    existing_ids: Callable[[Collection, list[str]], set[str]]
    is_superuser: bool = False
    # case-insensitive "is this id taken?" for primary keys with a custom pattern (PocketBase
    # checks `id = ? COLLATE NOCASE`); None skips the check and leaves it to the UNIQUE index
    pk_taken: Callable[[Collection, str], bool] | None = None


# -- errors shared by several types (ozzo-validation's built-in rules, as PocketBase renders them)


def required_error() -> FieldError:
    return FieldError("validation_required", "Cannot be blank.")


def min_threshold_error(threshold: Any) -> FieldError:
    return FieldError(
        "validation_min_greater_equal_than_required",
        f"Must be no less than {threshold}.",
        {"threshold": threshold},
    )


def max_threshold_error(threshold: Any) -> FieldError:
    return FieldError(
        "validation_max_less_equal_than_required",
        f"Must be no greater than {threshold}.",
        {"threshold": threshold},
    )


def int_option(field: Field, key: str) -> int:
    """An integer option; JSON may hand us floats or null."""
    raw = field.opt(key)
    if isinstance(raw, bool) or raw is None:
        return int(bool(raw))
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def check_int_range(
    errors: dict[str, FieldError], key: str, value: int, low: int | None, high: int | None
) -> None:
    """ozzo's Min/Max on an int option: zero counts as "not set" and passes both."""
    if value == 0 or key in errors:
        return
    if low is not None and value < low:
        errors[key] = min_threshold_error(low)
    elif high is not None and value > high:
        errors[key] = max_threshold_error(high)


def sentenize(message: str) -> str:
    """PocketBase upper-cases the first letter of an error message and ends it with a period."""
    message = message.strip()
    if not message:
        return ""
    message = message[0].upper() + message[1:]
    return message if message[-1] in ".?!" else message + "."


class FieldType(ABC):
    """One PocketBase field type. Instances are stateless singletons (see `field_type`)."""

    name: str = ""
    # which write modifiers the type understands: "+" (field+), "prepend" (+field), "-" (field-)
    modifiers: frozenset[str] = frozenset()

    @abstractmethod
    def column_type(self, field: Field) -> str:
        """The column type and constraints, exactly as PocketBase 0.40 writes them."""

    def column_definition(self, field: Field) -> str:
        return f"`{field.name}` {self.column_type(field)}"

    @abstractmethod
    def zero(self, field: Field) -> Any:
        """The JSON zero value of a field that was never set."""

    @abstractmethod
    def normalize(self, field: Field, raw: Any) -> Any:
        """Cast request input (JSON or multipart strings) the lenient way PocketBase does."""

    def apply_modifier(self, field: Field, current: Any, modifier: str, value: Any) -> Any:
        """Apply `field+` ("+"), `+field` ("prepend") or `field-` ("-") to the current value.

        A modifier the type lacks (`title+` on text) is ignored, as PocketBase ignores the key.
        """
        return current

    @abstractmethod
    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        """Raise FieldError when a normalized value breaks the field's options."""

    @abstractmethod
    def to_db(self, field: Field, value: Any) -> Any:
        """A normalized value as the SQLite parameter PocketBase would store."""

    @abstractmethod
    def from_db(self, field: Field, raw: Any) -> Any:
        """A stored SQLite value as the record's API JSON value."""

    # Built once per schema by core/store/codec.py, so the per-row loops call one function per
    # field; a type overrides them with a shortcut for the values SQLite and JSON usually hold.
    def reader(self, field: Field) -> Callable[[Any], Any]:
        """`from_db` for this field as one callable."""
        return partial(self.from_db, field)

    def writer(self, field: Field) -> Callable[[Any], Any]:
        """`to_db` for this field as one callable."""
        return partial(self.to_db, field)

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        """Errors in the field's type options, keyed by option name (collection create/update)."""
        return {}


class StringType(FieldType):
    """A field stored as TEXT with '' as its zero value (email, url, editor)."""

    def column_type(self, field: Field) -> str:
        return "TEXT DEFAULT '' NOT NULL"

    def zero(self, field: Field) -> Any:
        return ""

    def normalize(self, field: Field, raw: Any) -> Any:
        from core.store.fields.cast import to_string

        return to_string(raw)

    def to_db(self, field: Field, value: Any) -> Any:
        return self.normalize(field, value)

    def from_db(self, field: Field, raw: Any) -> Any:
        return self.normalize(field, raw)

    def reader(self, field: Field) -> Callable[[Any], Any]:
        from core.store.fields.cast import to_string

        return to_string

    def writer(self, field: Field) -> Callable[[Any], Any]:
        from core.store.fields.cast import to_string

        return to_string

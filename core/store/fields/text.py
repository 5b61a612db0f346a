"""text: plain strings, and the collection's `id` primary key (PocketBase's field_text.go).

Autogenerate: the records layer fills an empty value on create. Either call
`autogenerate(field, value, is_new)` (returns the value to keep) or, for the `field:autogenerate`
key, `apply_modifier(field, current, "autogenerate", prefix)` (prefix + a generated string).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from core.store.fields.base import (
    MAX_SAFE_JSON_INT,
    FieldError,
    FieldType,
    FindCollection,
    ValidationContext,
    check_int_range,
    int_option,
    required_error,
    sentenize,
)
from core.store.fields.cast import go_quote, to_string
from core.store.fields.goregex import (
    GoRegexError,
    UnsupportedPatternError,
    go_search,
    random_from_pattern,
    regex_error,
)
from core.store.schema import Collection, Field

DEFAULT_ID_PATTERN = "^[a-z0-9]+$"
DEFAULT_MAX_LENGTH = 5000
PK_COLUMN = "TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL"

# Only for primary keys with a custom pattern: ids end up as directory names on every platform.
FORBIDDEN_PK_CHARACTERS = (
    ".",
    "/",
    "\\",
    "|",
    '"',
    "'",
    "`",
    "<",
    ">",
    ":",
    "?",
    "*",
    "%",
    "$",
    "\x00",
    "\t",
    "\n",
    "\r",
    " ",
)
RESERVED_PKS = (
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
)


def generate_from_pattern(pattern: str) -> str:
    """A random string for an autogeneratePattern such as `[a-z0-9]{15}`.

    Mirrors PocketBase's generator, quirks included: `x{1,3}` yields 1 or 2 repeats, `x?` none.
    Raises ValueError for patterns it cannot generate from (anchors, word boundaries).
    """
    simple = _simple_pattern(pattern)
    if simple is not None:
        return _random_string(*simple)
    return random_from_pattern(pattern)


def _random_string(alphabet: str, count: int) -> str:
    # unbiased: random bytes past the largest multiple of len(alphabet) are thrown away
    size = len(alphabet)
    limit = 256 - 256 % size
    out: list[str] = []
    while len(out) < count:
        out.extend(alphabet[b % size] for b in secrets.token_bytes(count * 2) if b < limit)
    return "".join(out[:count])


_SIMPLE_RE = re.compile(r"^\[((?:[a-zA-Z0-9]-[a-zA-Z0-9]|[a-zA-Z0-9_])+)\]\{(\d{1,3})\}$")
_simple_cache: dict[str, tuple[str, int] | None] = {}


def _simple_pattern(pattern: str) -> tuple[str, int] | None:
    """`[a-z0-9]{15}`-style patterns (every id and tokenKey) skip the general generator: it is
    the hottest path of a create, and a class repeated N times needs no regex walk."""
    if pattern in _simple_cache:
        return _simple_cache[pattern]
    result = None
    m = _SIMPLE_RE.match(pattern)
    if m:
        body, chars = m.group(1), []
        i = 0
        while i < len(body):
            if i + 2 < len(body) and body[i + 1] == "-":
                chars += [chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1)]
                i += 3
            else:
                chars.append(body[i])
                i += 1
        result = ("".join(sorted(set(chars))), int(m.group(2)))
    _simple_cache[pattern] = result
    return result


def autogenerate(field: Field, value: Any, is_new: bool) -> Any:
    """PocketBase's create interceptor: a new record with an empty value gets a generated one."""
    pattern = str(field.opt("autogeneratePattern") or "")
    if pattern and is_new and not value:
        return generate_from_pattern(pattern)
    return value


def _matches(pattern: str, value: str) -> bool:
    try:
        return go_search(pattern, value)
    except GoRegexError:
        return False  # Go ignores the compile error and reports a mismatch


class TextType(FieldType):
    name = "text"
    modifiers = frozenset({"autogenerate"})

    def column_type(self, field: Field) -> str:
        return PK_COLUMN if field.opt("primaryKey") else "TEXT DEFAULT '' NOT NULL"

    def zero(self, field: Field) -> Any:
        return ""

    def normalize(self, field: Field, raw: Any) -> Any:
        return to_string(raw)

    def apply_modifier(self, field: Field, current: Any, modifier: str, value: Any) -> Any:
        if modifier != "autogenerate":
            return super().apply_modifier(field, current, modifier, value)
        pattern = str(field.opt("autogeneratePattern") or "")
        return to_string(value) + (generate_from_pattern(pattern) if pattern else "")

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        text = to_string(value)
        if field.opt("primaryKey"):
            if not ctx.is_new:
                old = to_string((ctx.old or {}).get(field.name, ""))
                if old != text:
                    raise FieldError("validation_pk_change", "The record primary key cannot be changed.")
                if old:
                    return  # an existing id may predate the current pattern (imports, migrations)
            elif (
                field.opt("pattern") != DEFAULT_ID_PATTERN
                and ctx.pk_taken
                and ctx.pk_taken(ctx.collection, text)
            ):
                raise FieldError(
                    "validation_pk_invalid", "The record primary key is invalid or already exists."
                )
        self.validate_plain(field, text)

    def validate_plain(self, field: Field, text: str) -> None:
        """TextField.ValidatePlainValue: the checks that need no record context."""
        primary = bool(field.opt("primaryKey"))
        if (field.required or primary) and text == "":
            raise required_error()
        if text == "":
            return
        length = len(text)
        low = int_option(field, "min")
        if low > 0 and length < low:
            raise FieldError(
                "validation_min_text_constraint", f"Must be at least {low} character(s).", {"min": low}
            )
        high = int_option(field, "max") or DEFAULT_MAX_LENGTH
        if high > 0 and length > high:
            raise FieldError(
                "validation_max_text_constraint", f"Must be no more than {high} character(s).", {"max": high}
            )
        pattern = str(field.opt("pattern") or "")
        if pattern and not _matches(pattern, text):
            raise FieldError("validation_invalid_format", "Invalid value format.")
        if primary and pattern != DEFAULT_ID_PATTERN:
            _check_pk_characters(text)

    def to_db(self, field: Field, value: Any) -> Any:
        return to_string(value)

    def from_db(self, field: Field, raw: Any) -> Any:
        return to_string(raw)

    def reader(self, field: Field) -> Callable[[Any], Any]:
        return to_string

    def writer(self, field: Field) -> Callable[[Any], Any]:
        return to_string

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        errors: dict[str, FieldError] = {}
        primary = bool(field.opt("primaryKey"))
        if primary and field.name != "id":
            errors["name"] = FieldError("validation_in_invalid", 'The primary key must be named "id".')
        if primary and sum(1 for f in collection.fields if f.type == "text" and f.opt("primaryKey")) > 1:
            errors["primaryKey"] = FieldError(
                "validation_unsupported_composite_pk",
                "Composite PKs are not supported and the collection must have only 1 PK.",
            )
        low = int_option(field, "min")
        check_int_range(errors, "min", low, 0, MAX_SAFE_JSON_INT)
        check_int_range(errors, "max", int_option(field, "max"), low, MAX_SAFE_JSON_INT)
        pattern = str(field.opt("pattern") or "")
        if primary and not pattern:
            errors["pattern"] = required_error()
        elif pattern and (problem := regex_error(pattern)):
            errors["pattern"] = FieldError("validation_invalid_regex", sentenize(problem))
        if primary and field.hidden:
            errors["hidden"] = FieldError("validation_empty", "Must be blank.")
        if primary and not field.required:
            errors["required"] = required_error()
        generator = str(field.opt("autogeneratePattern") or "")
        if generator and (
            generator_error := self._autogenerate_problem(field, generator, "pattern" in errors)
        ):
            errors["autogeneratePattern"] = generator_error
        return errors

    def _autogenerate_problem(self, field: Field, generator: str, pattern_broken: bool) -> FieldError | None:
        if problem := regex_error(generator):
            return FieldError("validation_invalid_regex", sentenize(problem))
        # like PocketBase: generate a few values and check them against the field's own rules
        for _ in range(10):
            try:
                sample = generate_from_pattern(generator)
            except UnsupportedPatternError as e:
                return FieldError("validation_invalid_autogenerate_pattern", sentenize(str(e)))
            try:
                if not pattern_broken:
                    self.validate_plain(field, sample)
            except FieldError:
                return FieldError(
                    "validation_invalid_autogenerate_pattern_value",
                    sentenize(
                        f"The provided autogenerate pattern could produce invalid field values, ex.: {go_quote(sample)}"
                    ),
                )
        return None


def _check_pk_characters(text: str) -> None:
    for ch in FORBIDDEN_PK_CHARACTERS:
        if ch in text:
            raise FieldError(
                "validation_forbidden_pk_character",
                f"'{ch}' is not a valid primary key character.",
                {"ch": ch},
            )
    if len(text) <= 4:
        for reserved in RESERVED_PKS:
            if text.upper() == reserved:
                raise FieldError(
                    "validation_reserved_pk",
                    f"The primary key '{reserved}' is reserved and cannot be used.",
                    {"reserved": reserved},
                )

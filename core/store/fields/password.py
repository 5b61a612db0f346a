"""password: a hash in a TEXT column, never shown (field_password.go).

Values in a record are one of two things:
- `PlainPassword`: newly submitted text (from `normalize`). `validate` checks min/max/pattern
  on it and `to_db` hashes it with `core.auth.passwords.hash_password`; "" clears the hash.
- a plain `str`: the stored hash, passed through untouched by `validate` (only `required`
  applies) and `to_db`. The records layer keeps the raw column value for unchanged passwords,
  since `from_db` (the API value) is always "".
"""

from __future__ import annotations

from typing import Any

from core.auth.passwords import hash_password
from core.store.fields.base import (
    FieldError,
    FieldType,
    FindCollection,
    ValidationContext,
    check_int_range,
    int_option,
    required_error,
    sentenize,
)
from core.store.fields.cast import to_string
from core.store.fields.goregex import GoRegexError, go_search, regex_error
from core.store.schema import Collection, Field

# bcrypt's input limit; PocketBase keeps it as the default max even though we hash with argon2
DEFAULT_MAX_LENGTH = 71
MIN_COST, MAX_COST = 4, 31


class PlainPassword(str):
    """A password as the client sent it, not yet hashed."""


class PasswordType(FieldType):
    name = "password"

    def column_type(self, field: Field) -> str:
        return "TEXT DEFAULT '' NOT NULL"

    def zero(self, field: Field) -> Any:
        return ""

    def normalize(self, field: Field, raw: Any) -> Any:
        return raw if isinstance(raw, PlainPassword) else PlainPassword(to_string(raw))

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        text = to_string(value)
        # `required` looks at the hash: an empty new password clears it, a stored one keeps it
        if field.required and text == "":
            raise required_error()
        if not isinstance(value, PlainPassword) or text == "":
            return
        length = len(text)
        low = int_option(field, "min")
        # unlike text fields, these messages carry no params (PocketBase formats them inline)
        if length < low:
            raise FieldError("validation_min_text_constraint", f"Must be at least {low} character(s).")
        high = int_option(field, "max")
        high = high if high > 0 else DEFAULT_MAX_LENGTH
        if length > high:
            raise FieldError("validation_max_text_constraint", f"Must be less than {high} character(s).")
        pattern = str(field.opt("pattern") or "")
        if pattern:
            try:
                matched = go_search(pattern, text)
            except GoRegexError:
                matched = False
            if not matched:
                raise FieldError("validation_invalid_format", "Invalid value format.")

    def to_db(self, field: Field, value: Any) -> Any:
        if isinstance(value, PlainPassword):
            return hash_password(str(value)) if value else ""
        return to_string(value)

    def from_db(self, field: Field, raw: Any) -> Any:
        return ""

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        errors: dict[str, FieldError] = {}
        low = int_option(field, "min")
        check_int_range(errors, "min", low, 1, DEFAULT_MAX_LENGTH)
        check_int_range(errors, "max", int_option(field, "max"), low, DEFAULT_MAX_LENGTH)
        check_int_range(errors, "cost", int_option(field, "cost"), MIN_COST, MAX_COST)
        pattern = str(field.opt("pattern") or "")
        if pattern and (problem := regex_error(pattern)):
            errors["pattern"] = FieldError("validation_invalid_regex", sentenize(problem))
        return errors

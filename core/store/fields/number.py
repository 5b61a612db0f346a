"""number: a float64 in a NUMERIC column (PocketBase's field_number.go).

Input is cast leniently ("12" -> 12, "abc" -> 0, true -> 1), so type errors never surface; the
limits are checked on the cast value. Messages print numbers with Go's %v (1e+06, 1e-05).
"""

from __future__ import annotations

import math
from typing import Any

from core.store.fields.base import FieldError, FieldType, FindCollection, ValidationContext, required_error
from core.store.fields.cast import format_v, json_number, to_float
from core.store.schema import Collection, Field

_INT64 = 2**63


def _is_int64(value: float) -> bool:
    # Go's `v != float64(int64(v))`: out-of-range values do not survive the int64 round trip
    return value.is_integer() and -_INT64 <= value < _INT64


def _limit(field: Field, key: str) -> float | None:
    raw = field.opt(key)
    return None if raw is None else to_float(raw)


def min_error(low: float) -> FieldError:
    return FieldError(
        "validation_min_number_constraint",
        f"Must be greater or equal than {format_v(low)}.",
        {"min": json_number(low)},
    )


def max_error(high: float) -> FieldError:
    return FieldError(
        "validation_max_number_constraint",
        f"Must be less or equal than {format_v(high)}.",
        {"max": json_number(high)},
    )


ONLY_INT_ERROR = ("validation_only_int_constraint", "Decimal numbers are not allowed.")


class NumberType(FieldType):
    name = "number"
    modifiers = frozenset({"+", "-"})

    def column_type(self, field: Field) -> str:
        return "NUMERIC DEFAULT 0 NOT NULL"

    def zero(self, field: Field) -> Any:
        return 0

    def normalize(self, field: Field, raw: Any) -> Any:
        # a float64 in Go; integral values are kept as int so they print as PocketBase prints them
        return json_number(to_float(raw))

    def apply_modifier(self, field: Field, current: Any, modifier: str, value: Any) -> Any:
        if modifier == "+":
            return json_number(to_float(current) + to_float(value))
        if modifier == "-":
            return json_number(to_float(current) - to_float(value))
        return super().apply_modifier(field, current, modifier, value)

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        number = to_float(value)
        if math.isnan(number) or math.isinf(number):
            raise FieldError("validation_not_a_number", "The submitted number is not properly formatted.")
        if number == 0:
            if field.required:
                raise required_error()
            return
        if field.opt("onlyInt") and not _is_int64(number):
            raise FieldError(*ONLY_INT_ERROR)
        low, high = _limit(field, "min"), _limit(field, "max")
        if low is not None and number < low:
            raise min_error(low)
        if high is not None and number > high:
            raise max_error(high)

    def to_db(self, field: Field, value: Any) -> Any:
        # bound as REAL; the NUMERIC column stores integral values as INTEGER, like PocketBase
        return to_float(value)

    def from_db(self, field: Field, raw: Any) -> Any:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        return json_number(to_float(raw))

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        errors: dict[str, FieldError] = {}
        low, high = _limit(field, "min"), _limit(field, "max")
        only_int = bool(field.opt("onlyInt"))
        if only_int and low is not None and not _is_int64(low):
            errors["min"] = FieldError(*ONLY_INT_ERROR)
        if only_int and high is not None and not _is_int64(high):
            errors["max"] = FieldError(*ONLY_INT_ERROR)
        elif low is not None and high is not None and high < low:
            errors["max"] = min_error(low)
        return errors

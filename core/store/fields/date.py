"""date: a UTC datetime stored as `YYYY-MM-DD HH:MM:SS.sssZ` text (field_date.go).

Input is parsed with PocketBase's layout and then Go's fallback layouts (see `gotime`);
anything unparseable, numbers included, becomes "" rather than an error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from core.store.fields.base import FieldError, FieldType, ValidationContext, required_error
from core.store.fields.gotime import GoTime, is_pb_text, parse_datetime
from core.store.schema import Field


def to_go_time(raw: Any) -> GoTime | None:
    """types.ParseDateTime: None for the zero time and for anything it cannot read."""
    if isinstance(raw, GoTime):
        parsed: GoTime | None = raw
    elif isinstance(raw, datetime):
        parsed = GoTime.from_datetime(raw)
    elif isinstance(raw, str):
        parsed = parse_datetime(raw)
    else:
        # a JSON number reaches Go as a float64, whose text ("1.7e+09") no layout accepts
        parsed = None
    return None if parsed is None or parsed.is_zero() else parsed


def normalize_datetime(raw: Any) -> str:
    if type(raw) is str and is_pb_text(raw):
        return raw  # already PocketBase's text of a valid, non-zero time: formatting gives it back
    parsed = to_go_time(raw)
    return parsed.pb_string() if parsed else ""


def now_datetime() -> str:
    """The current time in PocketBase's format, with milliseconds (autodate values)."""
    return GoTime.from_datetime(datetime.now(UTC)).pb_string()


class DateType(FieldType):
    name = "date"

    def column_type(self, field: Field) -> str:
        return "TEXT DEFAULT '' NOT NULL"

    def zero(self, field: Field) -> Any:
        return ""

    def normalize(self, field: Field, raw: Any) -> Any:
        return normalize_datetime(raw)

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        parsed = to_go_time(value)
        if parsed is None:
            if field.required:
                raise required_error()
            return
        low = to_go_time(field.opt("min"))
        if low is not None and parsed.key() < low.key():
            raise FieldError(
                "validation_min_greater_equal_than_required",
                f"Must be no less than {low.go_string()}.",
                {"threshold": low.rfc3339()},
            )
        high = to_go_time(field.opt("max"))
        if high is not None and parsed.key() > high.key():
            raise FieldError(
                "validation_max_less_equal_than_required",
                f"Must be no greater than {high.go_string()}.",
                {"threshold": high.rfc3339()},
            )

    def to_db(self, field: Field, value: Any) -> Any:
        return normalize_datetime(value)

    def from_db(self, field: Field, raw: Any) -> Any:
        return normalize_datetime(raw)

    def reader(self, field: Field) -> Callable[[Any], Any]:
        return normalize_datetime

    def writer(self, field: Field) -> Callable[[Any], Any]:
        return normalize_datetime

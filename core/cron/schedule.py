"""PocketBase's cron expressions: 5 space-separated segments or a macro, checked in UTC.

Segments are minute, hour, day of month, month, day of week, each a comma list of `*`, `n`,
`a-b`, `*/n` or `a-b/n`. Parsing mirrors `tools/cron/schedule.go` step by step, so an invalid
expression fails with the same (raw) message PocketBase gives, e.g.
`invalid segment value - must be between the min and max of the segment`.

Pure: no imports from the rest of core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# (min, max) of each segment, in expression order
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


class CronSyntaxError(ValueError):
    """An invalid expression; the message is PocketBase's raw error text."""


@dataclass(frozen=True)
class Schedule:
    expression: str  # the 5-field form (macros expanded), as `GET /api/crons` shows it
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        expression = MACROS.get(expression, expression)
        # a plain split on one space, like Go's strings.Split: double spaces are an error
        segments = expression.split(" ")
        if len(segments) != 5:
            raise CronSyntaxError(
                "invalid cron expression - must be a valid macro or to have exactly 5 space separated segments"
            )
        slots = [_segment(seg, lo, hi) for seg, (lo, hi) in zip(segments, BOUNDS, strict=True)]
        return cls(expression, *slots)

    def is_due(self, moment: datetime) -> bool:
        """Whether the schedule fires in the minute of `moment` (a UTC datetime)."""
        weekday = (moment.weekday() + 1) % 7  # Python: Monday=0; cron: Sunday=0
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.day in self.days
            and weekday in self.weekdays
            and moment.month in self.months
        )


def _atoi(text: str) -> int:
    """Go's strconv.Atoi: an optional sign and ASCII digits only."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        raise CronSyntaxError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise CronSyntaxError(f'strconv.Atoi: parsing "{text}": value out of range')
    return value


def _segment(segment: str, lo: int, hi: int) -> frozenset[int]:
    slots: set[int] = set()
    for part in segment.split(","):
        step_parts = part.split("/")
        if len(step_parts) == 1:
            step = 1
        elif len(step_parts) == 2:
            step = _atoi(step_parts[1])
            if step < 1 or step > hi:
                raise CronSyntaxError(
                    f"invalid segment step boundary - the step must be between 1 and the {hi}"
                )
        else:
            raise CronSyntaxError("invalid segment step format - must be in the format */n or 1-30/n")

        if step_parts[0] == "*":
            first, last = lo, hi
        else:
            range_parts = step_parts[0].split("-")
            if len(range_parts) == 1:
                if step != 1:
                    raise CronSyntaxError(
                        "invalid segment step - step > 1 could be used only with the wildcard or range format"
                    )
                first = _atoi(range_parts[0])
                if first < lo or first > hi:
                    raise CronSyntaxError(
                        "invalid segment value - must be between the min and max of the segment"
                    )
                last = first
            elif len(range_parts) == 2:
                first = _atoi(range_parts[0])
                if first < lo or first > hi:
                    raise CronSyntaxError(f"invalid segment range minimum - must be between {lo} and {hi}")
                last = _atoi(range_parts[1])
                if last < first or last > hi:
                    raise CronSyntaxError(f"invalid segment range maximum - must be between {first} and {hi}")
            else:
                raise CronSyntaxError("invalid segment range format - the range must have 1 or 2 parts")
        slots.update(range(first, last + 1, step))
    return frozenset(slots)

"""Go's time.Parse for the layouts PocketBase accepts in date fields.

`types.DateTime.Scan` tries PocketBase's own layout (`2006-01-02 15:04:05.000Z`), then
`cast.ToTime`'s list of layouts, in order, with Go's parsing rules: fixed-width fields where the
layout zero-pads, a fractional second allowed after the seconds even when the layout has none,
day-of-month checked against the month, zone names accepted but (for most layouts) ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PB_LAYOUT = "2006-01-02 15:04:05.000Z"

# (layout, the zone in the text is honoured); layouts without a numeric zone are read as UTC
CAST_LAYOUTS: tuple[tuple[str, bool], ...] = (
    ("2006-01-02", False),
    ("2006-01-02T15:04:05Z07:00", True),  # RFC3339
    ("2006-01-02T15:04:05", False),
    ("Mon, 02 Jan 2006 15:04:05 -0700", True),  # RFC1123Z
    ("Mon, 02 Jan 2006 15:04:05 MST", False),  # RFC1123
    ("02 Jan 06 15:04 -0700", True),  # RFC822Z
    ("02 Jan 06 15:04 MST", False),  # RFC822
    ("Monday, 02-Jan-06 15:04:05 MST", False),  # RFC850
    ("2006-01-02 15:04:05.999999999 -0700 MST", True),  # time.Time.String()
    ("2006-01-02T15:04:05-0700", True),
    ("2006-01-02 15:04:05Z0700", True),
    # not in cast's documented list, but the 0.40 binary honours these zone spellings too
    ("2006-01-02 15:04:05Z07:00", True),
    ("2006-01-02 15:04:05 -0700", True),
    ("2006-01-02 15:04:05 -07:00", True),
    ("2006-01-02 15:04:05", False),
    ("Mon Jan _2 15:04:05 2006", False),  # ANSIC
    ("Mon Jan _2 15:04:05 MST 2006", False),  # UnixDate
    ("Mon Jan 02 15:04:05 -0700 2006", True),  # RubyDate
    ("3:04PM", False),  # Kitchen (time only: year 0)
    ("Jan _2 15:04:05", False),  # Stamp
    ("Jan _2 15:04:05.000", False),
    ("Jan _2 15:04:05.000000", False),
    ("Jan _2 15:04:05.000000000", False),
)

_TOKENS = (
    "January",
    "Monday",
    "2006",
    "Z07:00",
    "Z0700",
    "-07:00",
    "-0700",
    ".000000000",
    ".999999999",
    ".000000",
    ".000",
    "Jan",
    "Mon",
    "MST",
    "01",
    "02",
    "_2",
    "15",
    "04",
    "05",
    "06",
    "PM",
    "3",
)
_TOKEN_RE = re.compile("|".join(re.escape(t) for t in _TOKENS))
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


@dataclass
class GoTime:
    """A parsed instant in UTC. Go allows year 0 (time-only layouts), Python's datetime doesn't."""

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    nanos: int

    def is_zero(self) -> bool:
        # Go's zero Time: January 1, year 1, 00:00:00 UTC
        return (self.year, self.month, self.day, self.hour, self.minute, self.second, self.nanos) == (
            1,
            1,
            1,
            0,
            0,
            0,
            0,
        )

    def key(self) -> tuple[int, ...]:
        return (self.year, self.month, self.day, self.hour, self.minute, self.second, self.nanos)

    def pb_string(self) -> str:
        """PocketBase's layout: milliseconds truncated, "Z"; the zero time is ""."""
        if self.is_zero():
            return ""
        return (
            f"{self.year:04d}-{self.month:02d}-{self.day:02d} "
            f"{self.hour:02d}:{self.minute:02d}:{self.second:02d}.{self.nanos // 1_000_000:03d}Z"
        )

    def go_string(self) -> str:
        """time.Time.String() in UTC, as ozzo's date errors print it."""
        frac = f".{self.nanos:09d}".rstrip("0") if self.nanos else ""
        return (
            f"{self.year:04d}-{self.month:02d}-{self.day:02d} "
            f"{self.hour:02d}:{self.minute:02d}:{self.second:02d}{frac} +0000 UTC"
        )

    def rfc3339(self) -> str:
        """encoding/json's text for a time.Time (RFC3339Nano, UTC)."""
        frac = f".{self.nanos:09d}".rstrip("0") if self.nanos else ""
        return (
            f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
            f"T{self.hour:02d}:{self.minute:02d}:{self.second:02d}{frac}Z"
        )

    @classmethod
    def from_datetime(cls, dt: datetime) -> GoTime:
        if dt.tzinfo is not None:
            dt = dt.astimezone(UTC)
        return cls(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond * 1000)


class _ParseError(ValueError):
    pass


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _digits(value: str, pos: int, count: int) -> tuple[int, int]:
    chunk = value[pos : pos + count]
    if len(chunk) != count or not chunk.isascii() or not chunk.isdigit():
        raise _ParseError
    return int(chunk), pos + count


def _num(value: str, pos: int, fixed: bool) -> tuple[int, int]:
    """Go's getnum: two digits when fixed, else one or two."""
    if pos >= len(value) or not value[pos].isascii() or not value[pos].isdigit():
        raise _ParseError
    if pos + 1 >= len(value) or not value[pos + 1].isascii() or not value[pos + 1].isdigit():
        if fixed:
            raise _ParseError
        return int(value[pos]), pos + 1
    return int(value[pos : pos + 2]), pos + 2


def _name(value: str, pos: int, names: tuple[str, ...], short: bool) -> tuple[int, int]:
    for i, name in enumerate(names):
        text = name[:3] if short else name
        if value[pos : pos + len(text)].lower() == text.lower():
            return i, pos + len(text)
    raise _ParseError


def _fraction(value: str, pos: int, exact: int | None) -> tuple[int, int]:
    """A `.ddd` fraction; exact digits for `.000` layouts, any count for `.999`."""
    if pos >= len(value) or value[pos] not in ".,":
        raise _ParseError
    end = pos + 1
    while end < len(value) and value[end].isascii() and value[end].isdigit():
        end += 1
    digits = value[pos + 1 : end]
    if exact is not None:
        if len(digits) < exact:
            raise _ParseError
        digits, end = digits[:exact], pos + 1 + exact
    if not digits:
        raise _ParseError
    return int((digits + "000000000")[:9]), end


def _zone_offset(value: str, pos: int, token: str) -> tuple[int, int]:
    """Seconds east of UTC for Z07:00 / Z0700 / -07:00 / -0700."""
    if token.startswith("Z") and value[pos : pos + 1] == "Z":
        return 0, pos + 1
    sign_char = value[pos : pos + 1]
    if sign_char not in ("+", "-"):
        raise _ParseError
    hours, pos = _digits(value, pos + 1, 2)
    if token.endswith(":00"):
        if value[pos : pos + 1] != ":":
            raise _ParseError
        pos += 1
    minutes, pos = _digits(value, pos, 2)
    if hours > 24 or minutes > 59:
        raise _ParseError
    offset = hours * 3600 + minutes * 60
    return (-offset if sign_char == "-" else offset), pos


def _zone_name(value: str, pos: int) -> int:
    """Go's parseTimeZone: an abbreviation like MST, CEST or ChST (the offset is not used)."""
    rest = value[pos:]
    for special in ("ChST", "MeST"):
        if rest.startswith(special):
            return pos + 4
    if rest.startswith("GMT"):  # GMT may carry an hour offset: GMT+3, GMT-10
        m = re.match(r"GMT[+-][0-9]{1,2}", rest)
        return pos + (len(m.group(0)) if m else 3)
    upper = 0
    while upper < min(6, len(rest)) and "A" <= rest[upper] <= "Z":
        upper += 1
    if (
        upper == 3
        or (upper == 4 and (rest[3] == "T" or rest[:4] == "WITA"))
        or (upper == 5 and rest[4] == "T")
    ):
        return pos + upper
    raise _ParseError


def _skip(value: str, pos: int, literal: str) -> int:
    """Go's skip: match a layout literal, where a run of spaces matches any run of spaces."""
    i = 0
    while i < len(literal):
        if literal[i] == " ":
            if pos < len(value) and value[pos] != " ":
                raise _ParseError
            while i < len(literal) and literal[i] == " ":
                i += 1
            while pos < len(value) and value[pos] == " ":
                pos += 1
            continue
        if pos >= len(value) or value[pos] != literal[i]:
            raise _ParseError
        i += 1
        pos += 1
    return pos


def parse_layout(layout: str, value: str) -> tuple[GoTime, int | None]:
    """Parse value with a Go layout; returns the wall time and the zone offset (None if absent)."""
    year, month, day, hour, minute, second, nanos = 0, 1, 1, 0, 0, 0, 0
    pm: bool | None = None
    offset: int | None = None
    pos = 0
    lpos = 0
    for match in _TOKEN_RE.finditer(layout):
        pos = _skip(value, pos, layout[lpos : match.start()])
        lpos = match.end()
        token = match.group(0)
        if token == "2006":
            year, pos = _digits(value, pos, 4)
        elif token == "06":
            yy, pos = _digits(value, pos, 2)
            year = yy + (1900 if yy >= 69 else 2000)
        elif token == "01":
            month, pos = _num(value, pos, True)
        elif token in ("Jan", "January"):
            index, pos = _name(value, pos, _MONTHS, token == "Jan")
            month = index + 1
        elif token in ("Mon", "Monday"):
            _, pos = _name(value, pos, _DAYS, token == "Mon")
        elif token == "02":
            day, pos = _num(value, pos, True)
        elif token == "_2":
            if value[pos : pos + 1] == " ":
                pos += 1
            day, pos = _num(value, pos, False)
        elif token == "15":
            hour, pos = _num(value, pos, False)
        elif token == "3":
            hour, pos = _num(value, pos, False)
            if hour > 12:
                raise _ParseError
        elif token == "PM":
            marker = value[pos : pos + 2]
            if marker not in ("AM", "PM"):
                raise _ParseError
            pm, pos = marker == "PM", pos + 2
        elif token == "04":
            minute, pos = _num(value, pos, True)
        elif token == "05":
            second, pos = _num(value, pos, True)
            # Go accepts a fraction right after the seconds even if the layout has none
            next_char = value[pos + 1 : pos + 2]
            fraction_follows = (
                value[pos : pos + 1] in (".", ",") and next_char.isascii() and next_char.isdigit()
            )
            if fraction_follows and layout[lpos : lpos + 1] not in (".", ","):
                nanos, pos = _fraction(value, pos, None)
        elif token.startswith(".0"):
            nanos, pos = _fraction(value, pos, len(token) - 1)
        elif token == ".999999999":
            if value[pos : pos + 1] in (".", ","):
                nanos, pos = _fraction(value, pos, None)
        elif token in ("Z07:00", "Z0700", "-07:00", "-0700"):
            offset, pos = _zone_offset(value, pos, token)
        elif token == "MST":
            pos = _zone_name(value, pos)
    if _skip(value, pos, layout[lpos:]) != len(value):
        raise _ParseError
    if pm is not None:
        hour = hour % 12 + (12 if pm else 0)
    if not (1 <= month <= 12 and 0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 60):
        raise _ParseError
    if not 1 <= day <= _days_in_month(year, month):
        raise _ParseError
    return GoTime(year, month, day, hour, minute, second, nanos), offset


def _apply_offset(t: GoTime, offset: int | None) -> GoTime:
    if not offset or t.year < 1:
        return t
    dt = datetime(t.year, t.month, t.day, t.hour, t.minute, t.second, tzinfo=UTC) - timedelta(seconds=offset)
    return GoTime(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, t.nanos)


# PocketBase's own layout, the text every stored date and autodate has: read without the general
# layout walk (parse_layout would give the same fields), the range checks are the same
_PB_TEXT = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})Z", re.ASCII)


def _pb_text(value: str) -> GoTime | None:
    """The time in a text of PocketBase's own layout, None if it is not one or out of range."""
    m = _PB_TEXT.fullmatch(value)
    if m is None:
        return None
    year, month, day, hour, minute, second, millis = map(int, m.groups())
    in_range = 1 <= month <= 12 and hour < 24 and minute < 60 and second < 60
    if in_range and 1 <= day <= _days_in_month(year, month):
        return GoTime(year, month, day, hour, minute, second, millis * 1_000_000)
    return None


_ZERO_TEXT = "0001-01-01 00:00:00.000Z"


# the same text with the range checks in the pattern, for the yes/no question alone
_PB_TEXT_IN_RANGE = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z", re.ASCII
)


def is_pb_text(value: str) -> bool:
    """Whether `value` is the PocketBase text of a valid, non-zero time (so pb_string() of its
    parse is `value` itself)."""
    m = _PB_TEXT_IN_RANGE.fullmatch(value)
    if m is None or value == _ZERO_TEXT:
        return False
    month, day = m.group(1, 2)
    return day <= "28" or int(day) <= _days_in_month(int(value[:4]), int(month))


def parse_datetime(value: str) -> GoTime | None:
    """types.ParseDateTime for a string: None when nothing parses (PocketBase then stores "")."""
    if not value:
        return None
    fast = _pb_text(value)
    if fast is not None:
        return fast
    try:
        return parse_layout(PB_LAYOUT, value)[0]
    except _ParseError:
        pass
    for layout, zoned in CAST_LAYOUTS:
        try:
            parsed, offset = parse_layout(layout, value)
            return _apply_offset(parsed, offset if zoned else None)
        except (_ParseError, OverflowError):
            continue
    return None

"""`@now`, `@todayStart`, ... : values computed once per compile, bound as parameters.

Datetimes are UTC strings in PocketBase's storage format `YYYY-MM-DD HH:MM:SS.sssZ`, so they
compare as text against date/autodate columns. The numeric macros are integers; `@weekday` counts
from Sunday = 0 like Go's time.Weekday.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

END_OF_DAY = (23, 59, 59, 999000)


def format_datetime(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _day_end(dt: datetime, day: int) -> datetime:
    h, m, s, us = END_OF_DAY
    return dt.replace(day=day, hour=h, minute=m, second=s, microsecond=us)


def _month_end(now: datetime) -> datetime:
    return _day_end(now, calendar.monthrange(now.year, now.month)[1])


def _midnight(dt: datetime) -> datetime:
    return dt.replace(hour=0, minute=0, second=0, microsecond=0)


MACROS: dict[str, Callable[[datetime], str | int]] = {
    "@now": format_datetime,
    "@yesterday": lambda now: format_datetime(now - timedelta(days=1)),
    "@tomorrow": lambda now: format_datetime(now + timedelta(days=1)),
    "@todayStart": lambda now: format_datetime(_midnight(now)),
    "@todayEnd": lambda now: format_datetime(_day_end(now, now.day)),
    "@monthStart": lambda now: format_datetime(_midnight(now.replace(day=1))),
    "@monthEnd": lambda now: format_datetime(_month_end(now)),
    "@yearStart": lambda now: format_datetime(_midnight(now.replace(month=1, day=1))),
    "@yearEnd": lambda now: format_datetime(_day_end(now.replace(month=12), 31)),
    "@second": lambda now: now.second,
    "@minute": lambda now: now.minute,
    "@hour": lambda now: now.hour,
    "@day": lambda now: now.day,
    "@weekday": lambda now: (now.weekday() + 1) % 7,
    "@month": lambda now: now.month,
    "@year": lambda now: now.year,
}


def utc_now(now: datetime | None) -> datetime:
    """The compile's "now" in UTC; a naive datetime is taken as UTC."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now.astimezone(UTC)

"""PocketBase's datetime text: UTC, `YYYY-MM-DD HH:MM:SS.sssZ`."""

from __future__ import annotations

from datetime import UTC, datetime


def format_dt(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def now_str() -> str:
    return format_dt(datetime.now(UTC))

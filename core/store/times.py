"""PocketBase's datetime text: UTC, `YYYY-MM-DD HH:MM:SS.sssZ`."""

from __future__ import annotations

import time
from datetime import UTC, datetime

# (whole second, its "YYYY-MM-DD HH:MM:SS" text): every request log and record write stamps the
# time, and formatting the second once per second instead of per call saves ~2 us each
_second: tuple[int, str] = (-1, "")


def format_dt(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def now_str() -> str:
    global _second
    now = time.time()
    whole = int(now)
    cached = _second
    if cached[0] != whole:
        cached = _second = (whole, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(whole)))
    return f"{cached[1]}.{int((now - whole) * 1000):03d}Z"

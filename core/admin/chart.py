"""A server-rendered bar chart of requests and errors per hour (the Logs screen's).

Pure: `/api/logs/stats` answers (hourly totals, oldest first) in, bar geometry out; the SVG is
drawn by admin/partials/logs_chart.html. Hours with no log get an empty bar, so time runs at
an even pace along the axis (up to MAX_BARS hours; a longer span keeps only its newest).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

WIDTH = 1000
HEIGHT = 200
TOP = 12
BOTTOM = 24  # room for the axis labels
LEFT = 40
MAX_BARS = 24 * 7
MAX_BAR_WIDTH = 40.0
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Bar:
    hour: str  # "2026-12-08 14:00"
    total: int
    errors: int
    x: float
    width: float
    total_y: float
    total_height: float
    errors_y: float
    errors_height: float


@dataclass
class Chart:
    bars: list[Bar] = field(default_factory=list)
    peak: int = 0
    total: int = 0
    errors: int = 0
    ticks: list[tuple[float, str]] = field(default_factory=list)  # x, label
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    base: int = HEIGHT - BOTTOM


def _hours(stats: Iterable[Mapping[str, Any]]) -> dict[datetime, int]:
    out: dict[datetime, int] = {}
    for row in stats:
        try:
            hour = datetime.strptime(str(row.get("date", ""))[:13], "%Y-%m-%d %H")
        except ValueError:
            continue
        out[hour] = out.get(hour, 0) + int(row.get("total") or 0)
    return out


def build(totals: Iterable[Mapping[str, Any]], errors: Iterable[Mapping[str, Any]]) -> Chart:
    """The chart of `totals` (every log) with `errors` (the error logs) drawn over it."""
    all_hours = _hours(totals)
    error_hours = _hours(errors)
    if not all_hours:
        return Chart()
    last = max(all_hours)
    first = max(min(all_hours), last - (MAX_BARS - 1) * HOUR)
    hours = []
    hour = first
    while hour <= last:
        hours.append(hour)
        hour += HOUR
    peak = max(all_hours.get(h, 0) for h in hours) or 1
    base = HEIGHT - BOTTOM
    usable = base - TOP
    step = (WIDTH - LEFT) / len(hours)
    width = min(max(step * 0.8, 1.0), MAX_BAR_WIDTH)
    bars = []
    for i, h in enumerate(hours):
        total = all_hours.get(h, 0)
        bad = min(error_hours.get(h, 0), total)
        th = usable * total / peak
        eh = usable * bad / peak
        x = LEFT + i * step + (step - width) / 2
        bars.append(Bar(h.strftime("%Y-%m-%d %H:00"), total, bad, x, width, base - th, th, base - eh, eh))
    every = max(1, len(hours) // 6)
    ticks = [(b.x + b.width / 2, b.hour[5:]) for b in bars[::every]]
    return Chart(
        bars=bars,
        peak=peak,
        total=sum(b.total for b in bars),
        errors=sum(b.errors for b in bars),
        ticks=ticks,
    )

"""A one-line terminal progress bar for long CLI runs (no dependency; plain text when not a TTY)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
REDRAW_EVERY = 0.1  # seconds


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class ProgressBar:
    """Call it as a `Progress` callback: `(done, total, what)`; `phase()` names the current step."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.label = ""
        self._last = 0.0
        self._drawn = False

    def phase(self, label: str) -> None:
        self.finish()
        self.label = label
        if not self.tty:
            self.stream.write(f"{label}...\n")
            self.stream.flush()

    def __call__(self, done: int, total: int, what: str) -> None:
        now = time.monotonic()
        if not self.tty or (now - self._last < REDRAW_EVERY and done < total):
            return
        self._last = now
        ratio = min(done / total, 1.0) if total > 0 else 1.0
        filled = int(WIDTH * ratio)
        bar = "#" * filled + "-" * (WIDTH - filled)
        if what.endswith(" pages"):
            amount, what = f"{done}/{total} pages", what.removesuffix(" pages")
        else:
            amount = f"{_size(done)}/{_size(total)}"
        line = f"\r{self.label:<12} [{bar}] {ratio:4.0%}  {amount}  {what[-40:]}"
        self.stream.write(line.ljust(100)[:120])
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

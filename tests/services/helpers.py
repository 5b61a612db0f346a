"""Small helpers for the service tests (the app runs on the test client's own loop and thread)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from core.app import App


async def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `check` until it returns a truthy value (the app's background work runs elsewhere)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def flush_logs(app: App) -> None:
    app.services["logs"].flush()


async def wait_crons(app: App) -> None:
    assert await asyncio.to_thread(app.services["cron"].join, 30), "cron jobs still running"

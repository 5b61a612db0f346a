"""Small asyncio helpers shared by the services that own background tasks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable


async def cancel_all(tasks: Iterable[asyncio.Task[None] | None]) -> None:
    """Cancel the tasks and wait until each has ended (their CancelledError is expected)."""
    live = [t for t in tasks if t is not None]
    for task in live:
        task.cancel()
    for task in live:
        with contextlib.suppress(asyncio.CancelledError):
            await task

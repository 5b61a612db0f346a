"""Request logs: kept in `<data>/pocketbase/auxiliary.db` (`_logs`), written in batches off the request path."""

from __future__ import annotations

from core.logs.service import LogsService

__all__ = ["LogsService"]

"""A small cron scheduler with PocketBase's 5-field syntax (`tools/cron`), plus the built-in jobs."""

from __future__ import annotations

from core.cron.schedule import CronSyntaxError, Schedule
from core.cron.scheduler import Job, Scheduler

__all__ = ["CronSyntaxError", "Job", "Schedule", "Scheduler"]

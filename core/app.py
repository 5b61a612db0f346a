"""The application object: every service a request handler may need, created once per process."""

from __future__ import annotations

from typing import Any

from core import datadir
from core.auth.service import AuthService
from core.config import Settings
from core.store.store import Store


class App:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.pb_dir, env=settings.env)
        self.auth = AuthService(self.store)
        if settings.workers > 1:
            self._share_limits()
        # services other packages attach at start-up (mailer, realtime broker, cron, logs...):
        # keyed by name so that adding one does not touch this class
        self.services: dict[str, Any] = {}
        # the NATS connection, when `core serve` runs the embedded server or joins an external one
        self.nats: Any = None

    def open(self) -> None:
        datadir.prepare(self.settings.data_dir, self.settings.pb_dir)
        self.store.open()

    def close(self) -> None:
        self.store.close()

    def _share_limits(self) -> None:
        """With several worker processes, rate limits and cooldowns count across all of them."""
        from core.auth.shared_limits import SharedCooldowns, SharedRateLimiters, SharedTable
        from core.store.shared import run_dir

        table = SharedTable(run_dir(self.settings.pb_dir) / "limits")
        if self.settings.worker == 0:
            table.clear()  # the leader starts before its followers: a restart forgets, as PocketBase
        self.auth.limiters = SharedRateLimiters(table)  # type: ignore[assignment]
        self.auth.cooldowns = SharedCooldowns(table)  # type: ignore[assignment]

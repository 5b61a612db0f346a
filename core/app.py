"""The application object: every service a request handler may need, created once per process."""

from __future__ import annotations

from typing import Any

from core.auth.service import AuthService
from core.config import Settings
from core.store.store import Store


class App:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.pb_dir, env=settings.env)
        self.auth = AuthService(self.store)
        # services other packages attach at start-up (mailer, realtime broker, cron, logs...):
        # keyed by name so that adding one does not touch this class
        self.services: dict[str, Any] = {}
        # the NATS connection, when `core serve` runs the embedded server or joins an external one
        self.nats: Any = None

    def open(self) -> None:
        self.store.open()

    def close(self) -> None:
        self.store.close()

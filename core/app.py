"""The application object: every service a request handler may need, created once per process."""

from __future__ import annotations

from core.auth.service import AuthService
from core.config import Settings
from core.store.store import Store


class App:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.pb_dir)
        self.auth = AuthService(self.store)

    def open(self) -> None:
        self.store.open()

    def close(self) -> None:
        self.store.close()

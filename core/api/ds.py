"""The Datastar UI's routes and lifespan hooks, for route discovery (the code lives in core/ui)."""

from core.ui import on_shutdown, on_startup, routes

__all__ = ["on_shutdown", "on_startup", "routes"]

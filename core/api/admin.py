"""The admin dashboard's routes and lifespan hook, for route discovery (the code lives in core/admin)."""

from core.admin import on_shutdown, on_startup, routes

__all__ = ["on_shutdown", "on_startup", "routes"]

"""The Datastar web UI: account pages under /ds, their endpoints under /api/ds, the /_/ mail-link
forwarder and the static files. Exposed to route discovery by core/api/ds.py.

Layout: `pages` (GET pages), `endpoints/` (one module per flow), `context` (one request: mode,
credentials, cookie changes), `bridge` (runs PocketBase's own handlers in-process), `session`
(cookies and cross-site checks), `hub` + `changes` (which open tabs hear about an auth change),
`render` + `templates` (Datastar events, Jinja), `views` (what the pages show).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from core.app import App
from core.ui import endpoints, pages
from core.ui.changes import AuthChanges
from core.ui.context import SERVICE
from core.ui.hub import Hub
from core.ui.paths import AssetsMissing, assets_dir

routes: list[Any] = [*pages.routes, *endpoints.routes]

_CHANGES = "ui.changes"
log = logging.getLogger("core.ui")


async def on_startup(app: App) -> None:
    try:
        assets_dir()
    except AssetsMissing as exc:
        # said once at start, not at every page view; the REST API works without the pages
        log.error("%s: the /ds pages will fail", exc)
    hub = Hub()
    app.services[SERVICE] = hub
    changes = AuthChanges(app.store.db, app.store.registry, hub, asyncio.get_running_loop())
    changes.attach()
    app.services[_CHANGES] = changes


async def on_shutdown(app: App) -> None:
    changes = app.services.pop(_CHANGES, None)
    if changes is not None:
        changes.detach()
    hub = app.services.pop(SERVICE, None)
    if hub is not None:
        hub.shutdown()

"""core's own user of the `app` account: record events must live where issued users can reach
them, while core's internal traffic stays in the CORE account (core/nats/auth.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.nats.auth import APP_ACCOUNT, AuthStore
from core.nats.client import connect

log = logging.getLogger("core.bus")

APP_CREDS = "core-app.creds"


async def app_connection(nats: Any) -> tuple[Any, bool]:
    """A connection in the app account, and whether it is a new one the caller must close.

    Without the operator's bundle (an external NATS joined with --nats-creds) core's own
    connection is all there is: the events then live in whatever account those creds belong to.
    """
    store = AuthStore(Path(nats.data_dir) / "nats-auth")
    bundle = nats.bundle or (store.load() if store.exists() else None)
    if bundle is None or APP_ACCOUNT not in bundle.accounts:
        log.warning("record events: no app account here; they go to core's own NATS account")
        return nats.nc, False
    creds = store.user_creds(bundle.accounts[APP_ACCOUNT], APP_CREDS, "core-events")
    nc = await connect(
        nats.client_url, creds, name=f"core events {nats.settings.name or ''}".strip(), source="NATS"
    )
    return nc, True

"""A `--ha` node as `core serve` runs it, in-process: the fixture data, its real nats-server in
the same data dir (so `core` commands find the creds there), the data dir lock a server holds."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from core.app import App
from core.backups.lock import DataDirLock
from core.config import Settings
from core.ha.node import HaNode, HaSettings
from tests.nats.conftest import StartNode


@contextlib.asynccontextmanager
async def served_node(
    start_node: StartNode, fixture_dir: Path, data: Path, settings: HaSettings
) -> AsyncIterator[tuple[App, HaNode, Any]]:
    """(app, node, nats) until the block ends; then the node is closed and the lock released."""
    shutil.copytree(fixture_dir, data)
    nats = await start_node(data)
    await nats.jetstream_ready()
    app = App(Settings(data_dir=data))
    served = DataDirLock(app.store.dir)  # what `core serve` holds for its lifetime
    assert served.acquire(exclusive=False)
    node = HaNode(settings, nats.js)
    await node.open(app)
    try:
        yield app, node, nats
    finally:
        await node.close()
        app.close()
        served.release()

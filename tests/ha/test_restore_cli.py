"""`core backup restore` on a data dir that follows a --ha stream: the backup goes through the
stream (the node runs meanwhile, in-process, on its real nats-server) and the node restores it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.backups.service import BackupService
from core.ha.changelog import StreamSettings
from core.ha.node import HaSettings
from tests.ha.served import served_node
from tests.ha.test_cli import _core
from tests.ha.test_node import _create_posts, _state
from tests.ha.test_restore import _titles
from tests.nats.conftest import StartNode


async def test_an_offline_restore_goes_through_the_stream(
    start_node: StartNode, fixture_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "node"
    settings = HaSettings(node="n1", stream=StreamSettings(name="pbrest"))
    async with served_node(start_node, fixture_dir, data, settings) as (app, node, nats):
        await _create_posts(app, ["kept"])
        service = BackupService(app.store.dir, app.store.settings.get)
        await asyncio.to_thread(service.create, "snap.zip")
        await _create_posts(app, ["gone"])
        common = ["--dir", str(data), "--nats-url", nats.client_url, "--ha-stream", "pbrest"]
        before = _state(app).seq

        sent = await _core("backup", "restore", "snap.zip", *common)
        assert sent.returncode == 0, sent.stderr
        assert f"as entry {before + 1}: every node restores it" in sent.stdout
        assert await node.wait_applied(before + 1)
        assert "kept" in _titles(app) and "gone" not in _titles(app)
        await _create_posts(app, ["after"])  # and the node writes on top of it

        other = await _core(
            "backup", "restore", "snap.zip", *common[:2], "--nats-url", nats.client_url, "--ha-stream", "nope"
        )
        assert other.returncode == 1 and "Error: no stream 'nope'" in other.stderr, other.stderr
        assert "Traceback" not in other.stderr

"""`core ha status|snapshot|reset` against a running node (in-process) and its real nats-server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from subprocess import PIPE

from core.ha.changelog import StreamSettings
from core.ha.node import HaSettings
from tests.ha.served import served_node
from tests.ha.test_node import _create_posts
from tests.nats.conftest import REPO, StartNode


async def _core(*argv: str) -> subprocess.CompletedProcess[str]:
    """`core ARGV` as a user runs it; the event loop (this node's upkeep) runs meanwhile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PB_", "NATS_", "CORE_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", *argv, cwd=REPO, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return subprocess.CompletedProcess(argv, proc.returncode or 0, out.decode(), err.decode())


async def test_status_snapshot_and_reset(start_node: StartNode, fixture_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "node"
    settings = HaSettings(node="n1", region="iad", stream=StreamSettings(name="pbcli"), status_interval=0.05)
    async with served_node(start_node, fixture_dir, data, settings) as (app, _node, nats):
        await _create_posts(app, ["a", "b", "c"])
        common = ["--dir", str(data), "--nats-url", nats.client_url, "--ha-stream", "pbcli"]

        taken = await _core("ha", "snapshot", *common)
        assert taken.returncode == 0, taken.stderr
        assert "snapshot of entry 3 uploaded" in taken.stdout

        for _ in range(50):
            shown = await _core("ha", "status", "--json", *common)
            assert shown.returncode == 0, shown.stderr
            status = json.loads(shown.stdout)
            if status["nodes"] and status["nodes"][0]["applied"] == 3:
                break
            await asyncio.sleep(0.1)
        assert (status["stream"], status["first"], status["last"]) == ("pbcli", 1, 3)
        assert status["local"] == {"applied": 3, "lag": 0}
        assert status["snapshot"]["seq"] == 3
        assert [(n["node"], n["region"], n["applied"], n["lag"], n["stalled"]) for n in status["nodes"]] == [
            ("n1", "iad", 3, 0, None)
        ]
        text = await _core("ha", "status", *common)
        assert "node n1 (iad, serializable): applied 3, lag 0" in text.stdout

        refused = await _core("ha", "reset", "--dir", str(data))  # the running server holds the dir
        assert refused.returncode == 2 and "stop it first" in refused.stderr, refused.stderr
    offline = await _core("superuser", "upsert", "x@example.com", "password123456", "--dir", str(data))
    assert offline.returncode == 2 and "follows a --ha stream" in offline.stderr, offline.stderr
    # a restore goes through the stream instead (tests/ha/test_restore_cli.py); a missing one is refused
    restore = await _core("backup", "restore", "any.zip", "--dir", str(data))
    assert restore.returncode == 1 and "Missing or invalid backup file" in restore.stderr, restore.stderr
    moved = await _core("ha", "reset", "--dir", str(data))
    assert moved.returncode == 0, moved.stderr
    assert not (data / "pocketbase" / "data.db").exists()
    assert list((data / "pocketbase").glob("pre-ha-reset-*/data.db"))
    unknown = await _core(
        "ha", "status", "--dir", str(data), "--nats-url", nats.client_url, "--ha-stream", "nope"
    )
    assert unknown.returncode == 2 and "no stream 'nope'" in unknown.stderr

"""nats.ws (the official browser client) in Node against core's websocket listener, with a JWT
from POST /api/nats/token: own subjects work, others are refused, and the JWT expires."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, free_port, start_core

JS_DIR = Path(__file__).resolve().parent
TTL_S = 5

pytestmark = pytest.mark.js


def test_app_user_over_websocket(node: str, tmp_path: Path) -> None:
    ws_port = free_port()
    args = [
        "--nats-port", str(free_port()),
        "--nats-leaf-port", str(free_port()),
        "--nats-monitor-port", "0",
        "--nats-ws-port", str(ws_port),
        "--nats-token-ttl", f"{TTL_S}s",
    ]  # fmt: skip
    srv = start_core(tmp_path / "data", extra_args=args)
    try:
        env = {
            **os.environ,
            "PB_URL": srv.url,
            "PB_EMAIL": DEFAULT_EMAIL,
            "PB_PASSWORD": DEFAULT_PASSWORD,
            "NATS_WS_URL": f"ws://127.0.0.1:{ws_port}",
        }
        proc = subprocess.run(
            [node, "nats_ws_app_user.mjs", srv.url],
            cwd=JS_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        context = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\nserver:\n{srv.log_tail(30)}"
        assert proc.returncode == 0, context
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        assert report["ok"] is True, context
        assert "a new connection with the expired JWT is refused" in report["steps"], context
        assert "expired" in report["closed"].lower() or "authentication" in report["closed"].lower(), context
    finally:
        srv.stop()

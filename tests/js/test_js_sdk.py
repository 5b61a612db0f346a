"""The official PocketBase JS SDK, driven by node, against core and the reference binary.

Every scenario runs against a fresh server of each target. The "pocketbase" target proves the
scenario's expectations are PocketBase's own behaviour; the "core" target must then match it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess, start_target

JS_DIR = Path(__file__).resolve().parent
# Scenarios are the numbered .mjs files; lib.mjs and anything else are helpers.
SCENARIOS = sorted(p.name for p in JS_DIR.glob("[0-9][0-9]_*.mjs"))
TARGETS = ["pocketbase", "core"]
SCENARIO_TIMEOUT_S = 120

pytestmark = pytest.mark.js


@pytest.fixture(params=TARGETS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    with start_target(request.param, tmp_path / "data") as srv:
        yield srv


def run_scenario(node: str, script: str, srv: ServerProcess) -> dict[str, Any]:
    env = {**os.environ, "PB_URL": srv.url, "PB_EMAIL": DEFAULT_EMAIL, "PB_PASSWORD": DEFAULT_PASSWORD}
    proc = subprocess.run(
        [node, script, srv.url],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT_S,
    )
    context = (
        f"{script} against {srv.name} exited {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}\n"
        f"--- server log tail ({srv.log_path}) ---\n{srv.log_tail(30)}"
    )
    assert proc.returncode == 0, context
    lines = proc.stdout.strip().splitlines()
    assert lines, context
    report: dict[str, Any] = json.loads(lines[-1])
    assert report["ok"] is True, context
    return report


def test_scenarios_found() -> None:
    assert len(SCENARIOS) >= 3, SCENARIOS


@pytest.mark.parametrize("script", SCENARIOS, ids=[s.removesuffix(".mjs") for s in SCENARIOS])
def test_sdk_scenario(node: str, server: ServerProcess, script: str) -> None:
    report = run_scenario(node, script, server)
    assert report["steps"], report

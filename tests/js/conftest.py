"""Fixtures for the JS SDK tests: a working `node` with the pinned SDK installed once per session."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

JS_DIR = Path(__file__).resolve().parent


def _sdk_installed() -> bool:
    """True when node_modules holds exactly the versions the lock file pins (a bump reinstalls)."""
    lock_path = JS_DIR / "package-lock.json"
    wanted = ["pocketbase", "eventsource", "nats.ws", "ws"]
    pinned: dict[str, str | None] = dict.fromkeys(wanted)
    if lock_path.exists():
        packages = json.loads(lock_path.read_text())["packages"]
        pinned = {name: packages.get(f"node_modules/{name}", {}).get("version") for name in wanted}
    for name, version in pinned.items():
        manifest = JS_DIR / "node_modules" / name / "package.json"
        if not manifest.exists():
            return False
        if version is not None and json.loads(manifest.read_text())["version"] != version:
            return False
    return True


@pytest.fixture(scope="session")
def node() -> str:
    """Path of `node`, with tests/js/node_modules installed from the lock file if missing."""
    node_bin = shutil.which("node")
    if node_bin is None:
        pytest.fail("node is not on PATH: the JS SDK tests need Node >= 20 (apt-get install nodejs npm)")
    version = subprocess.run([node_bin, "--version"], capture_output=True, text=True, check=True).stdout
    if int(version.strip().lstrip("v").split(".")[0]) < 20:
        pytest.fail(f"node {version.strip()} is too old: the JS SDK tests need Node >= 20")
    if not _sdk_installed():
        npm_bin = shutil.which("npm")
        if npm_bin is None:
            pytest.fail("npm is not on PATH: needed once to install tests/js/node_modules")
        # `npm ci` installs exactly the lock file; `install` only when there is no lock yet.
        command = "ci" if (JS_DIR / "package-lock.json").exists() else "install"
        proc = subprocess.run(
            [npm_bin, command, "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0 or not _sdk_installed():
            pytest.fail(
                f"npm {command} in {JS_DIR} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
    return node_bin

"""Fixtures for the packaging tests: the frozen executable, built at most once per session."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DIST_BIN = REPO_ROOT / "dist" / "core"
# Everything that ends up in dist/core: a change to any of these makes the executable stale.
BUILD_INPUTS = ("core", "assets", "spec/core.spec", "scripts/build", "pyproject.toml")
BUILD_TIMEOUT_S = 900


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        for child in path.rglob("*"):
            if child.is_file() and "__pycache__" not in child.parts:
                yield child


def newest_input_mtime() -> float:
    paths = [f for rel in BUILD_INPUTS for f in _files(REPO_ROOT / rel)]
    paths.append(Path(sysconfig.get_path("scripts")) / "nats-server")
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def is_stale(binary: Path) -> bool:
    return not binary.exists() or binary.stat().st_mtime < newest_input_mtime()


@pytest.fixture(scope="session")
def core_bin() -> Path:
    """The one-file executable: $CORE_BIN if set (used as is), else dist/core, rebuilt if stale."""
    explicit = os.environ.get("CORE_BIN")
    if explicit:
        return Path(explicit).resolve()
    lock_dir = REPO_ROOT / "build" / "pyinstaller"
    lock_dir.mkdir(parents=True, exist_ok=True)
    # Two pytest sessions at once (or a session and a manual scripts/build) must not both write
    # dist/core; the second one waits, then finds it fresh.
    with (lock_dir / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_stale(DIST_BIN):
            proc = subprocess.run(
                [str(REPO_ROOT / "scripts" / "build")],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
            )
            if proc.returncode != 0:
                pytest.fail(f"scripts/build failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return DIST_BIN

"""Helpers for the log streaming tests: `core logs tail` as a subprocess of the test."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.servers import REPO_ROOT


def core_command(*args: str) -> list[str]:
    core_bin = os.environ.get("CORE_BIN")
    return [core_bin, *args] if core_bin else [sys.executable, "-m", "core", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_tail(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`core logs tail` once, without --follow."""
    return subprocess.run(
        core_command("logs", "tail", "--dir", str(data_dir), *args),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd=data_dir,
    )


def tail(data_dir: Path, *args: str) -> list[dict[str, Any]]:
    """`core logs tail --json` once: the items it printed (with their node)."""
    proc = run_tail(data_dir, "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


class Follower:
    """`core logs tail --follow --json` running in the background; lines arrive on a queue."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            core_command("logs", "tail", "--follow", "--json", "--dir", str(data_dir), *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=data_dir,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.lines.put(json.loads(line))

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = self.lines.get(timeout=left)
            except queue.Empty:
                break
            seen.append(item)
            if predicate(item):
                return item
        stderr = ""
        if self.proc.poll() is not None and self.proc.stderr is not None:
            stderr = self.proc.stderr.read()
        raise AssertionError(f"not shown by `core logs tail --follow`; saw {seen!r}; stderr {stderr}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def followed(data_dir: Path, *args: str) -> Iterator[Follower]:
    follower = Follower(data_dir, *args)
    try:
        yield follower
    finally:
        follower.stop()

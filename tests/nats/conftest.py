"""Helpers for the NATS tests: free loopback ports, serve flags, and nodes that always stop.

Every test starts its own nats-server children in its own tmp dir; a session check makes sure
none of them outlives the run.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from core.nats import cli
from core.nats.errors import NatsConfigError
from core.nats.service import NatsService

REPO = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    """A port that binds now, below the kernel's ephemeral range.

    A port the kernel hands out for bind(0) is also what it hands out as the local end of
    outgoing connections (clients, routes), so one can be taken again before nats-server binds
    it. Picking below that range leaves only other listeners to race with, and the node
    fixture retries those.
    """
    low, _ = _ephemeral_range()
    for _ in range(200):
        port = random.randrange(10000, max(low, 10001))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def serve_args(data_dir: Path, *extra: str, **flags: Any) -> argparse.Namespace:
    """Parse `core nats serve` flags; every port is a free one unless given."""
    ports = {
        "nats_port": free_port(),
        "nats_monitor_port": free_port(),
        "nats_cluster_port": free_port(),
        "nats_gateway_port": free_port(),
        "nats_leaf_port": free_port(),
    }
    values = {**ports, **flags}
    argv = ["--dir", str(data_dir)]
    for key, value in values.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir")
    cli.add_serve_arguments(parser)
    return parser.parse_args([*argv, *extra])


class StartNode(Protocol):
    async def __call__(
        self, data_dir: Path, *extra: str, env: dict[str, str] | None = ..., start: bool = ..., **flags: Any
    ) -> NatsService: ...


@pytest.fixture
async def start_node() -> AsyncIterator[StartNode]:
    """Start NatsService nodes; all of them are stopped when the test ends, pass or fail."""
    nodes: list[NatsService] = []

    async def start(
        data_dir: Path, *extra: str, env: dict[str, str] | None = None, start: bool = True, **flags: Any
    ) -> NatsService:
        kwargs = {k: flags.pop(k) for k in ("resolver", "resolve_interval") if k in flags}
        for attempt in range(3):
            args = serve_args(data_dir, *extra, **flags)
            node = NatsService.from_args(args, data_dir, env or {}, **kwargs)
            nodes.append(node)
            if not start:
                return node
            try:
                await node.start()
                return node
            except NatsConfigError as exc:
                # Another process took one of the ports this test picked: pick again, unless the
                # test chose that port itself (other nodes' routes point at it).
                chosen = {str(v) for v in flags.values()}
                if (
                    "address already in use" not in str(exc)
                    or attempt == 2
                    or str(exc).split(":")[0].split()[-1] in chosen
                ):
                    raise
        raise AssertionError("unreachable")

    yield start
    for node in reversed(nodes):
        await node.stop()


def run_cli(
    *argv: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """`python -m core.nats ARGV` in a subprocess, as a user would run `core nats ARGV`."""
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("FLY_", "PB_", "NATS_", "CORE_NATS"))
    }
    full_env |= {"PYTHONPATH": str(REPO)} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "core.nats", *argv],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
    )


def _our_servers(base: Path) -> list[str]:
    """nats-server processes whose config lives under this run's tmp dirs."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if "nats-server" in cmdline and str(base) in cmdline and state != "Z":
            found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.fixture(scope="session", autouse=True)
def no_orphans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    base = tmp_path_factory.getbasetemp()
    yield
    if sys.platform.startswith("linux"):
        assert _our_servers(base) == [], "nats-server processes left behind"

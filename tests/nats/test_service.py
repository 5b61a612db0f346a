"""NatsService and `core nats serve`: start, restart after a crash, no orphans, clear errors."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from core.nats import cli, creds, jwt
from core.nats.auth import AuthStore, create_bundle
from core.nats.client import subscriptions_settled
from core.nats.errors import NatsConfigError
from core.nats.service import NatsService
from tests.nats.conftest import REPO, StartNode, _our_servers, free_port, run_cli, serve_args


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except OSError:
        return False
    return state != "Z"


async def test_start_stop_and_reuse_of_auth(start_node: StartNode, tmp_path: Path) -> None:
    node = await start_node(tmp_path)
    assert node.supervisor is not None and node.supervisor.process is not None
    pid = node.supervisor.process.pid
    assert pid is not None and alive(pid)
    text = node.config_path.read_text()
    assert "sync_interval: always" in text and str(tmp_path / "nats") in text
    assert (node.config_path.stat().st_mode & 0o777) == 0o600
    await node.js.add_stream(name="keep", subjects=["keep"])
    await node.js.publish("keep", b"1")
    operator = AuthStore(tmp_path / "nats-auth").load().operator_public_key
    await node.stop()
    assert not alive(pid)

    again = await start_node(tmp_path)
    assert AuthStore(tmp_path / "nats-auth").load().operator_public_key == operator
    assert (await again.js.stream_info("keep")).state.messages == 1


async def test_crashed_child_is_restarted_with_backoff(start_node: StartNode, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="core.nats")
    node = await start_node(tmp_path)
    await node.js.add_stream(name="s", subjects=["s"])
    await node.js.publish("s", b"before")
    assert node.supervisor is not None and node.supervisor.process is not None
    node.supervisor.process.kill()
    deadline = time.monotonic() + 15
    while node.supervisor.restarts == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert node.supervisor.restarts == 1
    assert "exited with code -9; restarting in 0.5s" in caplog.text
    ack = None
    while ack is None and time.monotonic() < deadline:  # nats-py reconnects on its own
        try:
            ack = await node.js.publish("s", b"after", timeout=1)
        except Exception:
            await asyncio.sleep(0.1)
    assert ack is not None and ack.seq == 2


def test_sigkilled_core_leaves_no_nats_server(tmp_path: Path) -> None:
    args = serve_args(tmp_path)
    argv = ["serve", "--dir", str(tmp_path), "--nats-port", str(args.nats_port)]
    argv += ["--nats-monitor-port", "0", "--nats-leaf-port", str(args.nats_leaf_port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLY_", "NATS_", "PB_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.nats", *argv],
        cwd=REPO,
        env=env | {"PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("NATS ready at")
        children = _our_servers(tmp_path)
        assert len(children) == 1
        child = int(children[0].split(":")[0])
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child), "nats-server outlived a SIGKILLed core"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_sigterm_stops_core_nats_serve_cleanly(tmp_path: Path) -> None:
    args = serve_args(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "core.nats",
        "serve",
        "--dir",
        str(tmp_path),
        "--nats-port",
        str(args.nats_port),
        "--nats-monitor-port",
        "0",
        "--nats-leaf-port",
        str(args.nats_leaf_port),
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 20)).startswith(b"NATS ready")
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 15) == 0
    assert _our_servers(tmp_path) == []


async def test_external_nats_url_starts_no_child(start_node: StartNode, tmp_path: Path) -> None:
    server = await start_node(tmp_path / "server")
    user = tmp_path / "ext.creds"
    assert cli.main(["creds", "ext", "--dir", str(tmp_path / "server"), "-o", str(user)]) == 0
    client = await start_node(tmp_path / "client", "--nats-url", server.client_url, "--nats-creds", str(user))
    assert client.supervisor is None and client.client_url == server.client_url
    assert not (tmp_path / "client" / "nats").exists()
    await client.js.add_stream(name="ext", subjects=["ext"])
    # the stream is in the account of --nats-creds (app), not in the server's internal one
    assert (
        cli.main(["creds", "ext2", "--dir", str(tmp_path / "server"), "-o", str(tmp_path / "e2.creds")]) == 0
    )
    other = await nats.connect(server.client_url, user_credentials=str(tmp_path / "e2.creds"))
    try:
        assert (await other.jetstream().stream_info("ext")).config.name == "ext"
    finally:
        await other.close()
    with pytest.raises(nats.js.errors.NotFoundError):
        await server.js.stream_info("ext")


async def test_external_nats_with_the_auth_bundle_mints_its_own_user(
    start_node: StartNode, tmp_path: Path
) -> None:
    server = await start_node(tmp_path / "server")
    bundle = AuthStore(tmp_path / "server" / "nats-auth").load().export_text()
    client = await start_node(
        tmp_path / "client", "--nats-url", server.client_url, env={"CORE_NATS_AUTH": bundle}
    )
    assert client.supervisor is None
    service = (tmp_path / "client" / "nats-auth" / "core.creds").read_text()
    internal = AuthStore(tmp_path / "server" / "nats-auth").load().internal_account
    assert jwt.decode(creds.parse(service).jwt)["iss"] == internal.public_key
    # both cores' service users meet in the internal account
    sub = await server.nc.subscribe("core.realtime.events")
    await subscriptions_settled(server.nc)
    await client.nc.publish("core.realtime.events", b"row")
    assert (await sub.next_msg(timeout=5)).data == b"row"


@pytest.mark.parametrize(
    "flags, env, message",
    [
        ({"nats_url": "nats://127.0.0.1:{dead}"}, {}, "--nats-url: cannot reach nats://127.0.0.1:{dead}"),
        ({}, {"PB_REPLICATION_URL": "nats://127.0.0.1:{dead}"}, "PB_REPLICATION_URL: cannot reach"),
        ({"nats_port": "{busy}"}, {}, "--nats-port {busy}: address already in use"),
        ({"nats_monitor_port": "{busy}"}, {}, "--nats-monitor-port {busy}: address already in use"),
        ({"nats_leaf_port": "{busy}"}, {}, "--nats-leaf-port {busy}: address already in use"),
        ({}, {"CORE_NATS_SERVER_BIN": "/nonexistent/nats-server"}, "CORE_NATS_SERVER_BIN: /nonexistent"),
    ],
)
async def test_bad_config_is_one_line_naming_the_setting(tmp_path: Path, flags, env, message) -> None:  # type: ignore[no-untyped-def]
    dead = free_port()
    with socket.socket() as busy_sock:
        busy_sock.bind(("127.0.0.1", 0))
        busy_sock.listen()
        busy = busy_sock.getsockname()[1]
        fill = {"dead": dead, "busy": busy}
        flags = {k: v.format(**fill) for k, v in flags.items()}
        env = {k: v.format(**fill) for k, v in env.items()}
        if "nats_url" in flags or "PB_REPLICATION_URL" in env:
            AuthStore(tmp_path / "nats-auth").load_or_create()
        node = NatsService.from_args(serve_args(tmp_path, **flags), tmp_path, env)
        try:
            with pytest.raises(NatsConfigError) as caught:
                await node.start()
        finally:
            await node.stop()
    text = str(caught.value)
    assert text.startswith(message.format(**fill)), text
    assert "\n" not in text


async def test_unreachable_route_peer_is_one_warning(start_node: StartNode, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    dead = free_port()
    await start_node(tmp_path, nats_routes=f"127.0.0.1:{dead}", name="lonely")
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "--nats-routes" in r.getMessage()
    ]
    assert warnings == [
        f"--nats-routes: peer nats://127.0.0.1:{dead} is unreachable (connection refused); nats-server keeps retrying"
    ]


async def test_auth_bundle_from_env(start_node: StartNode, tmp_path: Path) -> None:
    bundle = create_bundle()
    await start_node(tmp_path, env={"CORE_NATS_AUTH": bundle.export_text()})
    assert AuthStore(tmp_path / "nats-auth").load().operator_public_key == bundle.operator_public_key


def test_cli_config_errors_are_one_line(tmp_path: Path) -> None:
    fly = {"FLY_APP_NAME": "pb", "FLY_REGION": "ams"}
    cases = [
        (
            ["serve", "--dir", str(tmp_path), "--nats-port", "abc"],
            {},
            "core: error: --nats-port: 'abc' is not a port number",
        ),
        (
            ["serve", "--dir", str(tmp_path)],
            fly,
            "core: error: FLY_MACHINE_ID: not set, but Fly.io mode needs",
        ),
        (
            ["serve", "--dir", str(tmp_path), "--nats-topology", "mesh"],
            {},
            "core: error: --nats-topology: 'mesh'",
        ),
    ]
    for argv, env, expected in cases:
        result = run_cli(*argv, env=env)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "nats").exists()

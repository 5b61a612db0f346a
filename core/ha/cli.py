"""`core ha status|snapshot|reset`: operating a `--ha` node from its data dir.

Registering the command imports nothing heavy (every `core` command builds the parser); nats-py
and the HA modules are imported by the actions that use them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from core.config import DEFAULT_DIR, ConfigError

T = TypeVar("T")

DATA_FILES = ("data.db", "data.db-wal", "data.db-shm")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The `--ha` flags of `core serve` (read by core.ha.settings)."""
    group = parser.add_argument_group("high availability (--ha)")
    group.add_argument(
        "--ha",
        action="store_true",
        default=None,
        help="leaderless replication: every node reads and writes; data.db follows a JetStream "
        "changelog (env CORE_HA)",
    )
    group.add_argument("--ha-stream", help="changelog stream name (env PB_REPLICATION_STREAM, default pb)")
    group.add_argument(
        "--ha-replicas",
        help="stream replicas (env PB_REPLICAS; default 3 with 3+ NATS servers, else their count)",
    )
    group.add_argument(
        "--ha-writes",
        help="serializable (default: every write runs on the latest state; no conflicts) or "
        "last-writer-wins (no retries; conflicts resolved in log order) (env CORE_HA_WRITES)",
    )
    group.add_argument(
        "--ha-timeout",
        help="seconds a write waits for the changelog before answering 503 (env CORE_HA_TIMEOUT, default 5)",
    )
    group.add_argument(
        "--ha-snapshot-entries",
        help="a snapshot after this many entries (env CORE_HA_SNAPSHOT_ENTRIES, default 10000; 0: never)",
    )
    group.add_argument(
        "--ha-snapshot-minutes",
        help="a snapshot after this many minutes (env CORE_HA_SNAPSHOT_MINUTES, default 60; 0: never)",
    )
    group.add_argument(
        "--ha-create-delay",
        help="seconds a node with an empty data dir waits for a node with data to create the stream "
        "(env CORE_HA_CREATE_DELAY, default 10)",
    )
    group.add_argument(
        "--ha-retain-entries",
        help="entries kept below the newest snapshot (env CORE_HA_RETAIN_ENTRIES, default 10000)",
    )
    group.add_argument(
        "--ha-orphan-minutes",
        help="files in the bucket that no record names are deleted after each snapshot once this old "
        "(env CORE_HA_ORPHAN_MINUTES, default 60)",
    )


HA_FLAGS = (
    "ha_stream",
    "ha_replicas",
    "ha_writes",
    "ha_timeout",
    "ha_snapshot_entries",
    "ha_snapshot_minutes",
    "ha_create_delay",
    "ha_retain_entries",
    "ha_orphan_minutes",
)


def serve_flags(args: argparse.Namespace) -> list[str]:
    """The `--ha` flags this `core serve` was given, for its `--workers` followers."""
    flags = ["--ha"]
    for dest in HA_FLAGS:
        value = getattr(args, dest, None)
        if value is not None:
            flags += ["--" + dest.replace("_", "-"), str(value)]
    return flags


def register(subparsers: Any) -> None:
    ha = subparsers.add_parser("ha", help="status, snapshots and reset of a --ha node")
    actions = ha.add_subparsers(dest="action", metavar="ACTION", required=True)

    status = actions.add_parser(
        "status", help="this node, the stream, the newest snapshot and every node's lag"
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    _common(status)
    status.set_defaults(func=cmd_status)

    snap = actions.add_parser("snapshot", help="upload a snapshot of this node's data now")
    _common(snap)
    snap.set_defaults(func=cmd_snapshot)

    reset = actions.add_parser(
        "reset", help="move this node's data.db aside, so that it joins the stream from a snapshot"
    )
    reset.add_argument("--dir", default=None, help=f"data directory (default {DEFAULT_DIR})")
    reset.set_defaults(func=cmd_reset)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=None, help=f"data directory (default {DEFAULT_DIR})")
    parser.add_argument(
        "--nats-url", default=None, help="NATS of this node (default nats://127.0.0.1:NATS_PORT)"
    )
    parser.add_argument(
        "--ha-stream", default=None, help="stream name (env PB_REPLICATION_STREAM, default pb)"
    )
    parser.add_argument(
        "--js-domain",
        default=None,
        help="JetStream domain of the stream (default: the hub's when this node's nats-server "
        "is a leaf of one, as `core serve --ha` does; else the server's own)",
    )


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.dir or os.environ.get("CORE_DATA_DIR") or DEFAULT_DIR)


def _stream(args: argparse.Namespace) -> str:
    return str(args.ha_stream or os.environ.get("PB_REPLICATION_STREAM") or "pb")


def _local_state(data_dir: Path) -> Any:
    from core.ha.applier import file_state

    return file_state(data_dir / "pocketbase" / "data.db")


async def _connect(args: argparse.Namespace) -> Any:
    from core.nats.auth import SERVICE_CREDS, AuthStore
    from core.nats.client import connect

    store = AuthStore(_data_dir(args) / "nats-auth")
    bundle = store.load()
    creds = store.user_creds(bundle.internal_account, SERVICE_CREDS, "core")
    url = (
        args.nats_url
        or os.environ.get("PB_REPLICATION_URL")
        or f"nats://127.0.0.1:{os.environ.get('NATS_PORT', '4222')}"
    )
    return await connect(url, creds, name="core ha", source="--nats-url", timeout=5)


def _jetstream(args: argparse.Namespace, nc: Any) -> Any:
    from core.nats.config import is_spoke
    from core.nats.service import CONFIG_FILE
    from core.nats.topology import HUB_DOMAIN

    domain = args.js_domain
    if domain is None:
        conf = _data_dir(args) / "nats" / CONFIG_FILE
        domain = HUB_DOMAIN if conf.is_file() and is_spoke(conf.read_text()) else None
    return nc.jetstream(domain=domain)


async def gather_status(args: argparse.Namespace) -> dict[str, Any]:
    stream = _stream(args)
    local = _local_state(_data_dir(args))
    nc = await _connect(args)
    try:
        return await stream_status(_jetstream(args, nc), stream, None if local is None else local.seq)
    finally:
        await nc.close()


async def stream_status(js: Any, stream: str, applied: int | None) -> dict[str, Any]:
    """The stream, its newest snapshot and every node's status; `applied` is this data dir's
    (None: not derived from a stream). Also what the dashboard's Cluster page shows."""
    import nats.js.errors

    from core.ha import snapshot
    from core.ha.upkeep import NodeStatus, key_value, nodes_bucket

    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        raise ConfigError(
            f"--ha-stream: no stream {stream!r} on this NATS (has a --ha node started?)"
        ) from None
    last = int(info.state.last_seq)
    newest = await snapshot.newest(await snapshot.bucket(js, stream, info.config.num_replicas or 1))
    nodes = await key_value(js, nodes_bucket(stream), info.config.num_replicas or 1)
    peers = []
    try:
        names = sorted(await nodes.keys())
    except nats.js.errors.NoKeysError:
        names = []
    now = time.time()
    for name in names:
        entry = await nodes.get(name)
        if entry.value:
            peer = NodeStatus.from_json(entry.value)
            peers.append(
                {**peer.__dict__, "lag": max(0, last - peer.applied), "seen": round(now - peer.at, 1)}
            )
    return {
        "stream": stream,
        "replicas": info.config.num_replicas,
        "first": int(info.state.first_seq),
        "last": last,
        "local": None if applied is None else {"applied": applied, "lag": max(0, last - applied)},
        "snapshot": None if newest is None else {"seq": newest.seq, "bytes": newest.size},
        "nodes": peers,
    }


def cmd_status(args: argparse.Namespace) -> int:
    status = asyncio.run(_guarded(gather_status(args)))
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(
        f"stream {status['stream']}: entries {status['first']}-{status['last']}, {status['replicas']} replica(s)"
    )
    local = status["local"]
    print(
        "this data dir: "
        + (
            "not derived from a stream"
            if local is None
            else f"applied {local['applied']}, lag {local['lag']}"
        )
    )
    snap = status["snapshot"]
    print("newest snapshot: " + ("none" if snap is None else f"entry {snap['seq']}, {snap['bytes']} bytes"))
    for peer in status["nodes"]:
        stalled = f", STALLED: {peer['stalled']}" if peer["stalled"] else ""
        print(
            f"node {peer['node']} ({peer['region'] or 'no region'}, {peer['mode']}): applied {peer['applied']}, "
            f"lag {peer['lag']}, seen {peer['seen']}s ago{stalled}"
        )
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    data_db = _data_dir(args) / "pocketbase" / "data.db"
    if _local_state(_data_dir(args)) is None:
        raise ConfigError(f"--dir: {data_db} is not derived from a --ha stream")

    import nats.js.errors

    from core.ha import snapshot
    from core.ha.upkeep import LEASE_KEY, LEASE_SECONDS, key_value, lease_bucket

    async def run() -> snapshot.SnapshotInfo:
        nc = await _connect(args)
        try:
            js = _jetstream(args, nc)
            info = await js.stream_info(_stream(args))
            lease = await key_value(
                js, lease_bucket(_stream(args)), info.config.num_replicas or 1, ttl=LEASE_SECONDS
            )
            try:
                await lease.create(LEASE_KEY, b"core ha snapshot")
            except nats.js.errors.KeyWrongLastSequenceError:
                raise ConfigError("a node is taking a snapshot right now; try again in a minute") from None
            try:
                return await snapshot.take(js, _stream(args), info.config.num_replicas or 1, data_db)
            finally:
                await lease.delete(LEASE_KEY)
        finally:
            await nc.close()

    taken = asyncio.run(_guarded(run()))
    print(f"snapshot of entry {taken.seq} uploaded ({taken.size} bytes)")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from core.backups.lock import DataDirLock

    pb_dir = _data_dir(args) / "pocketbase"
    if not (pb_dir / "data.db").exists():
        print(f"{pb_dir / 'data.db'} does not exist: nothing to reset")
        return 0
    lock = DataDirLock(pb_dir)
    if not lock.acquire(exclusive=True):
        raise ConfigError(f"--dir: a running core serve holds {pb_dir.parent}; stop it first")
    try:
        aside = pb_dir / f"pre-ha-reset-{time.strftime('%Y%m%d-%H%M%S')}"
        aside.mkdir(mode=0o700)
        for name in DATA_FILES:
            if (pb_dir / name).exists():
                shutil.move(str(pb_dir / name), str(aside / name))
    finally:
        lock.release()
    print(f"moved data.db to {aside}; on its next start this node restores the stream's newest snapshot")
    return 0


def on_cluster(args: argparse.Namespace, work: Callable[[Any, str], Awaitable[T]]) -> T:
    """`work(jetstream, stream name)` on the NATS of this node (`--nats-url`); a NATS failure
    ends the command with one line."""

    async def run() -> T:
        nc = await _connect(args)
        try:
            return await work(nc.jetstream(), _stream(args))
        finally:
            await nc.close()

    return asyncio.run(_guarded(run()))  # type: ignore[no-any-return]


async def _guarded(coro: Any) -> Any:
    import nats.errors

    from core.ha.changelog import ChangelogError
    from core.ha.snapshot import SnapshotError

    try:
        return await coro
    except (ChangelogError, SnapshotError, nats.errors.Error, TimeoutError) as exc:
        print(f"core: error: {exc or type(exc).__name__}", file=sys.stderr)
        raise SystemExit(1) from None

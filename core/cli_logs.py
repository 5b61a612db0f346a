"""`core logs tail`: read the PB_LOGS stream (every node's request and application logs).

It connects like the node does, as core's user of the `app` account minted from the data dir's
NATS auth, to the node's client port (read from the config the node wrote) or `--nats-url`.
Any node of a cluster serves the whole stream, so one command shows the fleet's logs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from core.config import DEFAULT_DIR, ConfigError, Settings

DEFAULT_URL = "nats://127.0.0.1:4222"
_LISTEN = re.compile(r'^listen:\s*"(.+)"\s*$', re.MULTILINE)
# without --follow, how long a stream that has nothing (more) for us may stay silent
_QUIET = 2.0


def register(subparsers: Any) -> None:
    logs = subparsers.add_parser("logs", help="read the logs every node streams to NATS")
    actions = logs.add_subparsers(dest="action", metavar="ACTION", required=True)
    tail = actions.add_parser("tail", help="print recent logs of every node (pb.logs.NODE.LEVEL)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new logs")
    tail.add_argument("--node", default=None, help="only this node's logs")
    tail.add_argument(
        "--level",
        default=None,
        choices=("debug", "info", "warn", "error"),
        help="only logs at this level or above",
    )
    tail.add_argument(
        "--filter",
        default="",
        help="a filter as /api/logs takes it, e.g. 'data.status >= 400 && message ~ \"/api/\"'",
    )
    tail.add_argument("-n", "--lines", type=int, default=20, help="how many recent logs to print (20)")
    tail.add_argument("--since", default="1h", help="how far back to look for them (1h)")
    tail.add_argument("--json", action="store_true", help="one JSON item per line, with its node")
    tail.add_argument("--dir", default=None, help=f"data directory of a node (default {DEFAULT_DIR})")
    tail.add_argument("--nats-url", default=None, help="the node's NATS (default: from the data dir)")
    tail.add_argument("--creds", default=None, help="a creds file that may read pb.logs.> (default: core's)")
    tail.set_defaults(func=cmd_tail)


def cmd_tail(args: argparse.Namespace) -> int:
    from core.logs.store import LogMatcher
    from core.nats.creds import parse_duration

    try:
        matcher = LogMatcher(args.filter) if args.filter else None
        since = parse_duration(args.since)
    except ValueError as exc:
        raise ConfigError(f"--filter/--since: {exc}") from None
    if args.lines < 0:
        raise ConfigError("--lines: must be 0 or more")
    data_dir = Settings.from_args(args).data_dir
    url = args.nats_url or node_url(data_dir)
    creds = Path(args.creds) if args.creds else _core_app_creds(data_dir)
    tail = Tail(
        node=args.node,
        min_level=args.level,
        matcher=matcher,
        lines=args.lines,
        as_json=args.json,
        out=sys.stdout,
    )
    asyncio.run(tail.run(url, creds, since=since, follow=args.follow))
    return 0


def node_url(data_dir: Path) -> str:
    """The client port of the nats-server the node in `data_dir` runs (its config says)."""
    from core.nats.service import CONFIG_FILE

    try:
        text = (data_dir / "nats" / CONFIG_FILE).read_text(encoding="utf-8")
    except OSError:
        return DEFAULT_URL
    match = _LISTEN.search(text)
    if not match:
        return DEFAULT_URL
    host, _, port = match.group(1).rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"nats://[{host}]:{port}" if ":" in host else f"nats://{host}:{port}"


def _core_app_creds(data_dir: Path) -> Path:
    from core.nats.auth import AuthStore
    from core.nats.service import app_creds_file

    store = AuthStore(data_dir / "nats-auth")
    return app_creds_file(store, store.load())


class Tail:
    def __init__(
        self,
        *,
        node: str | None,
        min_level: str | None,
        matcher: Any,
        lines: int,
        as_json: bool,
        out: TextIO,
    ) -> None:
        from core.logs import stream

        self.subject = f"{stream.SUBJECT_PREFIX}.{stream.subject_token(node) if node else '*'}.>"
        self.min_level = stream.LEVELS[min_level] if min_level else None
        self.matcher = matcher
        self.lines = lines
        self.as_json = as_json
        self.out = out

    def wanted(self, item: dict[str, Any]) -> bool:
        if self.min_level is not None and int(item.get("level", 0)) < self.min_level:
            return False
        return self.matcher is None or bool(self.matcher(item))

    def show(self, node: str, item: dict[str, Any]) -> None:
        if self.as_json:
            line = json.dumps({"node": node, **item}, separators=(",", ":"))
        else:
            from core.logs.stream import level_name

            data = json.dumps(item.get("data") or {}, separators=(",", ":"), sort_keys=True)
            level = level_name(int(item.get("level", 0))).upper()
            line = f"{item.get('created', '')} {level:<5} {node} {item.get('message', '')} {data}"
        self.out.write(line + "\n")
        self.out.flush()

    async def run(self, url: str, creds: Path, *, since: int, follow: bool) -> None:
        import nats.errors

        from core.logs.stream import STREAM
        from core.nats.client import connect

        nc = await connect(url, creds, name="core logs tail", source="--nats-url")
        try:
            await self._read(nc, url, since=since, follow=follow)
        except (nats.errors.Error, TimeoutError) as exc:
            # a creds file without read access to the stream times out or is refused
            raise ConfigError(f"cannot read {STREAM} at {url}: {exc or type(exc).__name__}") from None
        finally:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _read(self, nc: Any, url: str, *, since: int, follow: bool) -> None:
        import nats.errors
        import nats.js.errors
        from nats.js import api

        from core.logs.stream import STREAM

        js = nc.jetstream()
        try:
            await js.stream_info(STREAM)
        except nats.js.errors.NotFoundError:
            raise ConfigError(f"no {STREAM} stream at {url}: no node streams its logs yet") from None
        start = datetime.fromtimestamp(time.time() - since, UTC)
        sub = await js.subscribe(
            self.subject,
            stream=STREAM,  # else nats-py asks $JS.API.STREAM.NAMES, which a --logs user may not
            ordered_consumer=True,
            config=api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_TIME, opt_start_time=start),
        )
        recent: collections.deque[tuple[str, dict[str, Any]]] = collections.deque(maxlen=self.lines or None)
        # nothing in the window at all: no message will come to say so
        info = await sub.consumer_info()
        caught_up = not info.num_pending and not (info.delivered and info.delivered.consumer_seq)
        if caught_up and not follow:
            return
        while True:
            try:
                msg = await sub.next_msg(timeout=None if caught_up else _QUIET)
            except nats.errors.TimeoutError:
                msg = None  # nothing (more) since the start time
            if msg is not None:
                entry = _decode(msg.subject, msg.data)
                if entry is not None and self.wanted(entry[1]):
                    if caught_up:
                        self.show(*entry)
                    elif self.lines:
                        recent.append(entry)
            if not caught_up and (msg is None or msg.metadata.num_pending == 0):
                caught_up = True
                for entry in recent:
                    self.show(*entry)
                recent.clear()
                if not follow:
                    return


def _decode(subject: str, data: bytes) -> tuple[str, dict[str, Any]] | None:
    try:
        item = json.loads(data)
    except ValueError:
        return None
    if not isinstance(item, dict):
        return None
    parts = subject.split(".")
    return (parts[2] if len(parts) > 3 else "?"), item

"""NATS settings from flags and environment: one table of flags, their variables and defaults.

Pure: reads only the mapping it is given. Every bad value becomes a NatsConfigError whose
message names the flag or variable the value came from, so the user knows what to fix.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from core.nats.creds import parse_duration
from core.nats.errors import NatsConfigError

Topology = Literal["auto", "static", "fly"]
TOPOLOGIES: tuple[Topology, ...] = ("auto", "static", "fly")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Option:
    """One setting: its flag, the variable that can stand in for it, and its default."""

    dest: str
    flag: str
    env: str | None
    help: str
    default: Any = None
    kind: Literal["str", "port", "urls", "bool", "choice", "duration", "size"] = "str"


OPTIONS: tuple[Option, ...] = (
    Option("name", "--name", "PB_NAME", "server name, unique in the cluster (default: hostname)"),
    Option("region", "--region", "FLY_REGION", "region of this node; names its cluster (core-REGION)"),
    Option("nats_host", "--nats-host", "NATS_HOST", "bind address of the NATS listeners", "127.0.0.1"),
    Option("nats_port", "--nats-port", "NATS_PORT", "NATS client port", 4222, "port"),
    Option(
        "nats_monitor_port",
        "--nats-monitor-port",
        "NATS_MONITOR_PORT",
        "NATS monitoring port, always on 127.0.0.1 (0 turns it off)",
        8222,
        "port",
    ),
    Option("nats_cluster_port", "--nats-cluster-port", "NATS_CLUSTER_PORT", "NATS route port", 4244, "port"),
    Option(
        "nats_gateway_port", "--nats-gateway-port", "NATS_GATEWAY_PORT", "NATS gateway port", 7244, "port"
    ),
    Option("nats_leaf_port", "--nats-leaf-port", "NATS_LEAF_PORT", "NATS leafnode port", 7422, "port"),
    Option(
        "nats_routes",
        "--nats-routes",
        "NATS_ROUTES",
        "static mesh peers: URL,... (host:port is enough)",
        (),
        "urls",
    ),
    Option(
        "nats_hub",
        "--nats-hub",
        "NATS_HUB",
        "hub leafnode URLs: URL,...; this node becomes a spoke",
        (),
        "urls",
    ),
    Option(
        "nats_url", "--nats-url", "PB_REPLICATION_URL", "use this external NATS; no nats-server is started"
    ),
    Option(
        "nats_creds",
        "--nats-creds",
        "PB_REPLICATION_CREDS",
        "creds file for --nats-url (default: core's own)",
    ),
    Option(
        "nats_topology",
        "--nats-topology",
        "NATS_TOPOLOGY",
        "auto (Fly.io when FLY_APP_NAME is set, else static), static or fly",
        "auto",
        "choice",
    ),
    Option(
        "nats_hub_and_spoke",
        "--nats-hub-and-spoke",
        "NATS_PILLOW_HUB_AND_SPOKE",
        "on Fly.io: a hub cluster in PRIMARY_REGION, every other machine a leaf of it",
        False,
        "bool",
    ),
    Option(
        "nats_unsafe_async_fsync",
        "--nats-unsafe-async-fsync",
        "NATS_UNSAFE_ASYNC_FSYNC",
        "UNSAFE: let JetStream fsync every 2 min instead of on every write; a crash or power loss "
        "can then lose writes that were already acknowledged",
        False,
        "bool",
    ),
    Option(
        "nats_ws_port",
        "--nats-ws-port",
        "NATS_WS_PORT",
        "websocket listener for browsers (nats.ws) on the NATS host; plain ws, put TLS in front "
        "(0, the default, turns it off)",
        0,
        "port",
    ),
    Option(
        "nats_token_ttl",
        "--nats-token-ttl",
        "NATS_TOKEN_TTL",
        "longest life of a NATS JWT from POST /api/nats/token (it never outlives the auth token; default 15m)",
        15 * 60,
        "duration",
    ),
    Option(
        "logs_stream_max_age",
        "--logs-stream-max-age",
        "CORE_LOGS_STREAM_MAX_AGE",
        "how long the PB_LOGS stream (pb.logs.NODE.LEVEL) keeps a log (default 7d)",
        7 * 86400,
        "duration",
    ),
    Option(
        "logs_stream_max_bytes",
        "--logs-stream-max-bytes",
        "CORE_LOGS_STREAM_MAX_BYTES",
        "size the PB_LOGS stream is trimmed to, oldest first (e.g. 512MiB; default 1GiB; 0 stops publishing logs)",
        1 << 30,
        "size",
    ),
)
# ports where 0 means "no listener"
_OPTIONAL_PORTS = frozenset({"nats_monitor_port", "nats_ws_port"})
_SIZE = re.compile(r"^(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)$")
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class NatsSettings:
    # None when neither --name nor PB_NAME was given: the planner then picks the hostname
    # (static) or the machine id (Fly.io, where a PB_NAME in fly.toml would be the same everywhere).
    name: str | None = None
    hostname: str = "localhost"
    region: str | None = None
    host: str = "127.0.0.1"
    port: int = 4222
    monitor_port: int = 8222
    cluster_port: int = 4244
    gateway_port: int = 7244
    leaf_port: int = 7422
    routes: tuple[str, ...] = ()
    hub: tuple[str, ...] = ()
    url: str | None = None
    creds: Path | None = None
    topology: Topology = "auto"
    hub_and_spoke: bool = False
    unsafe_async_fsync: bool = False
    ws_port: int = 0
    token_ttl: int = 15 * 60
    logs_max_age: int = 7 * 86400
    logs_max_bytes: int = 1 << 30
    # Which flag or variable each value came from, for error messages that point at it.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def source(self, dest: str) -> str:
        return self.sources.get(dest) or next(o.flag for o in OPTIONS if o.dest == dest)

    @property
    def client_host(self) -> str:
        """Where a local client dials: loopback when the listener binds a wildcard address."""
        if self.host in ("0.0.0.0", ""):
            return "127.0.0.1"
        if self.host == "::":
            return "::1"
        return self.host


_METAVARS = {
    "name": "NAME",
    "region": "REGION",
    "nats_host": "ADDR",
    "nats_url": "URL,...",
    "nats_creds": "FILE",
    "urls": "URL,...",
    "port": "PORT",
    "duration": "DURATION",
    "size": "SIZE",
    "choice": "{" + ",".join(TOPOLOGIES) + "}",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("NATS")
    for opt in OPTIONS:
        env = f" [env {opt.env}]" if opt.env else ""
        if opt.kind == "bool":
            group.add_argument(opt.flag, dest=opt.dest, action="store_const", const=True, help=opt.help + env)
        else:
            metavar = _METAVARS.get(opt.dest) or _METAVARS.get(opt.kind)
            group.add_argument(opt.flag, dest=opt.dest, metavar=metavar, help=opt.help + env)


def from_args(args: argparse.Namespace, env: Mapping[str, str]) -> NatsSettings:
    """Flag beats variable beats default; each value is checked and tagged with where it came from."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for opt in OPTIONS:
        raw = getattr(args, opt.dest, None)
        source = opt.flag
        if raw is None and opt.env and env.get(opt.env) is not None:
            raw, source = env[opt.env], opt.env
        sources[opt.dest] = source
        values[opt.dest] = opt.default if raw is None else _convert(opt, raw, source)
    name = values["name"] or None
    if name is not None:
        _check_name(name, sources["name"])
    if values["region"] is not None:
        _check_name(values["region"], sources["region"])
    _check_host(values["nats_host"], sources["nats_host"])
    # only the flag: --workers followers join with --nats-url and inherit NATS_WS_PORT
    if values["nats_ws_port"] and values["nats_url"] and sources["nats_ws_port"] == "--nats-ws-port":
        raise NatsConfigError(
            f"{sources['nats_ws_port']}: core starts no nats-server with {sources['nats_url']}; "
            "configure the websocket listener on that server"
        )
    return NatsSettings(
        name=name,
        hostname=_hostname(),
        region=values["region"] or None,
        host=values["nats_host"],
        port=values["nats_port"],
        monitor_port=values["nats_monitor_port"],
        cluster_port=values["nats_cluster_port"],
        gateway_port=values["nats_gateway_port"],
        leaf_port=values["nats_leaf_port"],
        routes=_peer_urls(values["nats_routes"], values["nats_cluster_port"], sources["nats_routes"]),
        hub=_peer_urls(values["nats_hub"], values["nats_leaf_port"], sources["nats_hub"]),
        url=_client_url(values["nats_url"], sources["nats_url"]),
        creds=Path(values["nats_creds"]) if values["nats_creds"] else None,
        topology=values["nats_topology"],
        hub_and_spoke=values["nats_hub_and_spoke"],
        unsafe_async_fsync=values["nats_unsafe_async_fsync"],
        ws_port=values["nats_ws_port"],
        token_ttl=values["nats_token_ttl"],
        logs_max_age=values["logs_stream_max_age"],
        logs_max_bytes=values["logs_stream_max_bytes"],
        sources=sources,
    )


def _convert(opt: Option, raw: Any, source: str) -> Any:
    if opt.kind == "bool":
        if raw is True:
            return True
        text = str(raw).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise NatsConfigError(f"{source}: {raw!r} is not a boolean (use true or false)")
    text = str(raw).strip()
    if opt.kind == "port":
        if not text.isdigit() or not 0 <= int(text) <= 65535:
            raise NatsConfigError(f"{source}: {raw!r} is not a port number (0-65535)")
        if int(text) == 0 and opt.dest not in _OPTIONAL_PORTS:
            raise NatsConfigError(
                f"{source}: port 0 is only allowed for the monitor and websocket ports (it turns them off)"
            )
        return int(text)
    if opt.kind == "duration":
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise NatsConfigError(f"{source}: {exc}") from None
    if opt.kind == "size":
        return _parse_size(text, source)
    if opt.kind == "urls":
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if opt.kind == "choice":
        if text not in TOPOLOGIES:
            raise NatsConfigError(f"{source}: {raw!r} is not one of {', '.join(TOPOLOGIES)}")
        return text
    return text


def follower_flags(s: NatsSettings) -> list[str]:
    """What a --workers follower (started with --nats-url) must answer like its leader."""
    return ["--nats-token-ttl", f"{s.token_ttl}s"]


def _parse_size(text: str, source: str) -> int:
    match = _SIZE.match(text.lower())
    if not match:
        raise NatsConfigError(f"{source}: {text!r} is not a size (use e.g. 512MiB, 1GiB, 0)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)[:1]]


def _hostname() -> str:
    # Short host names read better in logs; an odd hostname falls back to a fixed name.
    name = socket.gethostname().split(".")[0]
    return name if _NAME.match(name) else "core"


def _check_name(value: str, source: str) -> None:
    if not _NAME.match(value):
        raise NatsConfigError(f"{source}: {value!r} must be 1-64 letters, digits, '.', '_' or '-'")


def _check_host(value: str, source: str) -> None:
    if value in ("", "localhost"):
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise NatsConfigError(f"{source}: {value!r} is not an IP address to bind to") from None


def _peer_urls(items: tuple[str, ...], default_port: int, source: str) -> tuple[str, ...]:
    """Normalise `host[:port]` or `nats://host:port` peers to full URLs (schemes kept)."""
    urls = []
    for item in items:
        text = item if "://" in item else f"nats://{item}"
        try:
            parts = urlsplit(text)
            port = parts.port or default_port
        except ValueError:
            raise NatsConfigError(f"{source}: {item!r} is not a host:port or nats:// URL") from None
        if parts.scheme not in ("nats", "nats-route", "nats-leaf", "tls") or not parts.hostname:
            raise NatsConfigError(f"{source}: {item!r} is not a host:port or nats:// URL")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        auth = f"{parts.username}:{parts.password}@" if parts.username else ""
        urls.append(f"{parts.scheme}://{auth}{host}:{port}")
    return tuple(urls)


def _client_url(value: str | None, source: str) -> str | None:
    if not value:
        return None
    urls = _peer_urls(tuple(v for v in value.split(",") if v.strip()), 4222, source)
    return ",".join(urls)

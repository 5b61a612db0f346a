"""One settings object, read once from CLI flags, the environment and `.env`.

Precedence: flag > environment > `.env` in the working directory > default.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HTTP = "127.0.0.1:8090"
DEFAULT_DIR = ".data"
HTTP_READ_TIMEOUT = 30.0


class ConfigError(Exception):
    """A bad setting: the message is one line naming the setting."""


def load_dotenv_file(path: Path = Path(".env")) -> None:
    """Load `.env` without overriding variables the process already has."""
    if not path.is_file():
        return
    from dotenv import dotenv_values

    for key, value in dotenv_values(path).items():
        if value is not None and key not in os.environ:
            os.environ[key] = value


def parse_http(value: str, setting: str = "--http") -> tuple[str, int]:
    """`HOST:PORT`, `[IPV6]:PORT`, `HOST` (port 8090), `PORT` (host 127.0.0.1) or `:PORT` (every
    interface, as PocketBase's Go listener reads it). The host is returned as typed: `bind_address`
    turns a name into an address."""
    value = value.strip()
    if value.isdigit():
        host, port = "127.0.0.1", value
    elif value.startswith("[") and "]" in value:
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else (rest or "8090")
    elif value.count(":") > 1:  # a bare IPv6 address
        host, port = value, "8090"
    else:
        host, sep, port = value.rpartition(":")
        if not sep:
            host, port = value, "8090"
    try:
        port_num = int(port)
    except ValueError:
        raise ConfigError(f"{setting}: invalid port {port!r} in {value!r} (expected HOST:PORT)") from None
    if not 0 <= port_num <= 65535:
        raise ConfigError(f"{setting}: port {port_num} out of range (0-65535)")
    return host, port_num


def bind_address(host: str, port: int, setting: str = "--http") -> str:
    """The address to listen on: every interface for an empty host (IPv6 and IPv4 when the
    machine has IPv6), the host's first address (IPv4 first, as Go's listener) for a name."""
    if not host:
        return "::" if socket.has_ipv6 and _ipv6_works() else "0.0.0.0"
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{setting}: cannot resolve host {host!r}: {reason}") from None
    addresses = [str(info[4][0]) for info in found]
    v4 = [a for a in addresses if ":" not in a]
    return (v4 or addresses)[0]


def _ipv6_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::", 0))
        return True
    except OSError:
        return False


def parse_origins(value: str) -> list[str]:
    """`--origins`: a comma list like PocketBase's flag (`*` when empty)."""
    origins = [o.strip() for o in value.split(",") if o.strip()]
    return origins or ["*"]


MAX_WORKERS = 64


def parse_workers(value: str, setting: str = "--workers") -> int:
    """A process count, or `auto`: one per CPU this process may run on."""
    if value.strip().lower() == "auto":
        return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))
    return int(_ranged(value, int, 1, MAX_WORKERS, setting, "a number or auto"))


def _ranged(
    value: str, convert: Callable[[str], float], low: float, high: float, setting: str, expected: str
) -> float:
    try:
        number = convert(value)
    except ValueError:
        raise ConfigError(f"{setting}: invalid value {value!r} (expected {expected})") from None
    if not low <= number <= high:
        raise ConfigError(f"{setting}: {number} out of range ({low}-{high})")
    return number


def _worker_index(value: str) -> int:
    try:
        return max(0, int(value))
    except ValueError:
        raise ConfigError(f"CORE_WORKER: invalid value {value!r} (set by core itself)") from None


def _seconds(value: str, setting: str) -> float:
    if not value.strip():
        return HTTP_READ_TIMEOUT
    return _ranged(value, float, 0.1, 3600, setting, "seconds")


@dataclass
class Settings:
    http_host: str = "127.0.0.1"  # the address listened on
    http_port: int = 8090
    # the host as the user typed it (a name, or "" for every interface): for the start banner
    http_name: str = "127.0.0.1"
    # `--origins`: CORS allowed origins (PocketBase's flag; `*` and wildcard patterns)
    origins: list[str] = field(default_factory=lambda: ["*"])
    # seconds a connection may take to send a request's headers (idle keep-alives included)
    http_read_timeout: float = HTTP_READ_TIMEOUT
    data_dir: Path = Path(DEFAULT_DIR)
    admin_email: str = ""
    admin_password: str = ""
    app_url: str = ""
    server: str = "granian"
    dev: bool = False
    # `--workers N`: processes serving the same data dir and port; `worker` is this one's index
    # (0: the leader, which runs the NATS server and the cron jobs and starts the others)
    workers: int = 1
    worker: int = 0
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def pb_dir(self) -> Path:
        return self.data_dir / "pocketbase"

    @property
    def public_url(self) -> str:
        if self.app_url:
            return self.app_url
        name = self.http_name or "0.0.0.0"
        return f"http://[{name}]:{self.http_port}" if ":" in name else f"http://{name}:{self.http_port}"

    @classmethod
    def from_args(cls, args: Any, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        http = getattr(args, "http", None) or env.get("CORE_POCKETBASE_HTTP") or DEFAULT_HTTP
        name, port = parse_http(http)
        origins = getattr(args, "origins", None) or env.get("CORE_ORIGINS") or "*"
        data_dir = Path(getattr(args, "dir", None) or env.get("CORE_DATA_DIR") or DEFAULT_DIR)
        server = getattr(args, "server", None) or env.get("CORE_HTTP_SERVER") or "granian"
        if server not in ("granian", "uvicorn"):
            raise ConfigError(f"--server: unknown value {server!r} (expected granian or uvicorn)")
        return cls(
            http_host=bind_address(name, port),
            http_port=port,
            http_name=name,
            origins=parse_origins(origins),
            http_read_timeout=_seconds(env.get("CORE_HTTP_READ_TIMEOUT", ""), "CORE_HTTP_READ_TIMEOUT"),
            data_dir=data_dir,
            admin_email=env.get("CORE_POCKETBASE_ADMIN_EMAIL", ""),
            admin_password=env.get("CORE_POCKETBASE_ADMIN_PASSWORD", ""),
            app_url=(env.get("CORE_POCKETBASE_APP_URL") or "").rstrip("/"),
            server=server,
            dev=bool(getattr(args, "dev", False)),
            workers=parse_workers(getattr(args, "workers", None) or env.get("CORE_WORKERS") or "1"),
            worker=_worker_index(env.get("CORE_WORKER", "0")),
            env=env,
        )

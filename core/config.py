"""One settings object, read once from CLI flags, the environment and `.env`.

Precedence: flag > environment > `.env` in the working directory > default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HTTP = "127.0.0.1:8090"
DEFAULT_DIR = ".data"


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
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = value, "8090"
    host = host.strip("[]") or "127.0.0.1"
    try:
        port_num = int(port)
    except ValueError:
        raise ConfigError(f"{setting}: invalid port {port!r} in {value!r} (expected HOST:PORT)")
    if not 0 <= port_num <= 65535:
        raise ConfigError(f"{setting}: port {port_num} out of range (0-65535)")
    return host, port_num


MAX_WORKERS = 64


def parse_workers(value: str, setting: str = "--workers") -> int:
    """A process count, or `auto`: one per CPU this process may run on."""
    if value.strip().lower() == "auto":
        return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))
    try:
        count = int(value)
    except ValueError:
        raise ConfigError(f"{setting}: invalid value {value!r} (expected a number or auto)") from None
    if not 1 <= count <= MAX_WORKERS:
        raise ConfigError(f"{setting}: {count} out of range (1-{MAX_WORKERS})")
    return count


def _worker_index(value: str) -> int:
    try:
        return max(0, int(value))
    except ValueError:
        raise ConfigError(f"CORE_WORKER: invalid value {value!r} (set by core itself)") from None


@dataclass
class Settings:
    http_host: str = "127.0.0.1"
    http_port: int = 8090
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
        return self.app_url or f"http://{self.http_host}:{self.http_port}"

    @classmethod
    def from_args(cls, args: Any, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        http = getattr(args, "http", None) or env.get("CORE_POCKETBASE_HTTP") or DEFAULT_HTTP
        host, port = parse_http(http)
        data_dir = Path(getattr(args, "dir", None) or env.get("CORE_DATA_DIR") or DEFAULT_DIR)
        server = getattr(args, "server", None) or env.get("CORE_HTTP_SERVER") or "granian"
        if server not in ("granian", "uvicorn"):
            raise ConfigError(f"--server: unknown value {server!r} (expected granian or uvicorn)")
        return cls(
            http_host=host,
            http_port=port,
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

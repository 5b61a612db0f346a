"""The `core serve` flags of the record events stream (PB_EVENTS)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.config import ConfigError
from core.nats.creds import parse_duration

SERVICE = "bus.settings"  # where `core serve` leaves them in app.services
DEFAULT_MAX_AGE = "7d"
DEFAULT_MAX_BYTES = "1GB"
_SIZE = re.compile(r"^(\d+)\s*([kmgt]?i?b?)?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# dest, env, help
FLAGS = (
    (
        "events_max_age",
        "CORE_EVENTS_MAX_AGE",
        f"how long PB_EVENTS keeps record events (default {DEFAULT_MAX_AGE})",
    ),
    ("events_max_bytes", "CORE_EVENTS_MAX_BYTES", f"how much PB_EVENTS keeps (default {DEFAULT_MAX_BYTES})"),
    (
        "events_hidden",
        "CORE_EVENTS_HIDDEN",
        "collections whose hidden fields go into their record events, comma separated (default none)",
    ),
)


@dataclass(frozen=True)
class EventsSettings:
    max_age: int = 7 * 86400  # seconds
    max_bytes: int = 1 << 30
    hidden: frozenset[str] = field(default_factory=frozenset)  # collection names, lower case
    # off by default: each event is one JetStream message stored with nats-server's per-message
    # fsync, which halved `core serve`'s creates/s on the bench machine (2,356 -> 1,184 at 12
    # fields); a deployment that consumes events or webhooks turns them on
    enabled: bool = False


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--events",
        action="store_true",
        default=None,
        help="publish record events to PB_EVENTS and deliver webhooks [env CORE_EVENTS=true]",
    )
    parser.add_argument(
        "--no-events",
        action="store_true",
        default=None,
        help="publish no record events, whatever CORE_EVENTS says (the default)",
    )
    for dest, env, text in FLAGS:
        parser.add_argument(
            "--" + dest.replace("_", "-"), default=None, metavar="VALUE", help=f"{text} [env {env}]"
        )


def serve_flags(args: Any) -> list[str]:
    """The events flags this `core serve` was given, for its `--workers` followers."""
    flags: list[str] = []
    if getattr(args, "no_events", None):
        flags.append("--no-events")
    elif getattr(args, "events", None):
        flags.append("--events")
    for dest, _, _ in FLAGS:
        value = getattr(args, dest, None)
        if value is not None:
            flags += ["--" + dest.replace("_", "-"), str(value)]
    return flags


def from_args(args: Any, env: Mapping[str, str]) -> EventsSettings:
    values: dict[str, tuple[str, str]] = {}
    for dest, var, _ in FLAGS:
        given = getattr(args, dest, None)
        if given is not None:
            values[dest] = (str(given), "--" + dest.replace("_", "-"))
        elif env.get(var):
            values[dest] = (env[var], var)
    age_text, age_source = values.get("events_max_age", (DEFAULT_MAX_AGE, "--events-max-age"))
    try:
        max_age = parse_duration(age_text)
    except ValueError as exc:
        raise ConfigError(f"{age_source}: {exc}") from None
    size_text, size_source = values.get("events_max_bytes", (DEFAULT_MAX_BYTES, "--events-max-bytes"))
    max_bytes = parse_size(size_text, size_source)
    hidden_text = values.get("events_hidden", ("", ""))[0]
    hidden = frozenset(n.strip().lower() for n in hidden_text.split(",") if n.strip())
    return EventsSettings(max_age, max_bytes, hidden, _enabled(args, env))


def _enabled(args: Any, env: Mapping[str, str]) -> bool:
    if getattr(args, "no_events", None):
        return False
    if getattr(args, "events", None):
        return True
    raw = env.get("CORE_EVENTS", "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(f"CORE_EVENTS: invalid value {raw!r} (expected true or false)")


def parse_size(text: str, source: str) -> int:
    """Bytes in `1048576`, `512MB`, `1GiB`, `2g`."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ConfigError(f"{source}: not a size: {text!r} (use e.g. 512MB, 1GB)")
    unit = (match.group(2) or "").lower().rstrip("b").rstrip("i")
    value = int(match.group(1)) * _UNITS[unit]
    if value <= 0:
        raise ConfigError(f"{source}: a size must be positive: {text!r}")
    return value

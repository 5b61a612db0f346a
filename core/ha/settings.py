"""`--ha` settings from flags and environment (pure: reads only the mapping it is given).

The seed's variables work as in pocketbase-ha: PB_NAME and PB_REPLICATION_URL are the NATS
settings' `--name` and `--nats-url`; PB_REPLICATION_STREAM names the stream; PB_REPLICAS sets
its replicas (default: 3 when the NATS cluster has 3 or more servers, else what it has).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.config import ConfigError
from core.ha.applier import Mode
from core.ha.changelog import StreamSettings
from core.ha.node import HaSettings

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
MODES = {m.value: m for m in Mode}


def _value(args: Any, dest: str, env: Mapping[str, str], var: str) -> tuple[str | None, str]:
    flag = "--" + dest.replace("_", "-")
    given = getattr(args, dest, None)
    if given is not None:
        return str(given), flag
    if env.get(var) not in (None, ""):
        return env[var], var
    return None, flag


def _number(args: Any, dest: str, env: Mapping[str, str], var: str, default: float, low: float) -> float:
    raw, source = _value(args, dest, env, var)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{source}: invalid number {raw!r}") from None
    if value < low:
        raise ConfigError(f"{source}: {raw} is below {low:g}")
    return value


def enabled(args: Any, env: Mapping[str, str]) -> bool:
    if getattr(args, "ha", None):
        return True
    raw = env.get("CORE_HA", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"CORE_HA: invalid value {raw!r} (expected true or false)")


def from_args(
    args: Any, env: Mapping[str, str], *, node: str, region: str, cluster_size: int | None
) -> HaSettings:
    """The settings of this node; `cluster_size` is how many NATS servers the cluster has (None:
    unknown, for a `--workers` follower, which never creates the stream)."""
    stream, _ = _value(args, "ha_stream", env, "PB_REPLICATION_STREAM")
    stream = stream or "pb"
    if not stream.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"--ha-stream: {stream!r} is not a valid stream name (letters, digits, - and _)")
    default_replicas = min(3, max(1, cluster_size or 1))
    replicas = int(_number(args, "ha_replicas", env, "PB_REPLICAS", default_replicas, 1))
    if replicas > 5:
        raise ConfigError(f"--ha-replicas: {replicas} is more than JetStream allows (5)")
    if cluster_size is not None and replicas > cluster_size:
        raise ConfigError(
            f"--ha-replicas: {replicas} replicas need {replicas} NATS servers; the cluster has {cluster_size}"
        )
    writes, source = _value(args, "ha_writes", env, "CORE_HA_WRITES")
    mode = MODES.get((writes or "serializable").strip().lower())
    if mode is None:
        raise ConfigError(f"{source}: {writes!r} is not one of {', '.join(MODES)}")
    return HaSettings(
        node=node,
        region=region,
        stream=StreamSettings(name=stream, replicas=replicas),
        mode=mode,
        timeout=_number(args, "ha_timeout", env, "CORE_HA_TIMEOUT", 5.0, 0.1),
        snapshot_entries=int(
            _number(args, "ha_snapshot_entries", env, "CORE_HA_SNAPSHOT_ENTRIES", 10_000, 0)
        ),
        snapshot_seconds=60 * _number(args, "ha_snapshot_minutes", env, "CORE_HA_SNAPSHOT_MINUTES", 60, 0),
        retain_entries=int(_number(args, "ha_retain_entries", env, "CORE_HA_RETAIN_ENTRIES", 10_000, 0)),
        create_delay=_number(args, "ha_create_delay", env, "CORE_HA_CREATE_DELAY", 10.0, 0),
        orphan_grace=60 * _number(args, "ha_orphan_minutes", env, "CORE_HA_ORPHAN_MINUTES", 60, 0),
    )

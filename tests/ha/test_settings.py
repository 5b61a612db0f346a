"""`--ha` settings: flags over variables over defaults; a bad value is one line naming its source."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from core.config import ConfigError
from core.ha import cli, settings
from core.ha.applier import Mode


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_serve_arguments(parser)
    return parser.parse_args(list(argv))


def _make(*argv: str, env: dict[str, str] | None = None, size: int = 3) -> Any:
    return settings.from_args(_args(*argv), env or {}, node="n1", region="iad", cluster_size=size)


def test_defaults_follow_the_cluster() -> None:
    one = _make(size=1)
    assert (one.stream.name, one.stream.replicas, one.mode, one.timeout) == ("pb", 1, Mode.SERIALIZABLE, 5.0)
    assert _make(size=2).stream.replicas == 2
    assert _make(size=5).stream.replicas == 3
    assert (one.node, one.region, one.snapshot_entries, one.snapshot_seconds) == ("n1", "iad", 10_000, 3600)


def test_the_seed_variables_and_flags() -> None:
    env = {"PB_REPLICATION_STREAM": "app", "PB_REPLICAS": "1", "CORE_HA_WRITES": "last-writer-wins"}
    made = _make(env=env)
    assert (made.stream.name, made.stream.replicas, made.mode) == ("app", 1, Mode.LAST_WRITER_WINS)
    flagged = _make("--ha-stream", "other", "--ha-replicas", "3", "--ha-writes", "serializable", env=env)
    assert (flagged.stream.name, flagged.stream.replicas, flagged.mode) == ("other", 3, Mode.SERIALIZABLE)
    assert _make("--ha-snapshot-minutes", "0.5", "--ha-timeout", "2").snapshot_seconds == 30


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--ha-replicas", "3"], {}, "--ha-replicas: 3 replicas need 3 NATS servers; the cluster has 1"),
        ([], {"PB_REPLICAS": "x"}, "PB_REPLICAS: invalid number 'x'"),
        (["--ha-replicas", "0"], {}, "--ha-replicas: 0 is below 1"),
        (
            ["--ha-writes", "eventual"],
            {},
            "--ha-writes: 'eventual' is not one of serializable, last-writer-wins",
        ),
        ([], {"PB_REPLICATION_STREAM": "a.b"}, "--ha-stream: 'a.b' is not a valid stream name"),
        (["--ha-timeout", "-1"], {}, "--ha-timeout: -1 is below 0.1"),
    ],
)
def test_bad_values_name_their_source(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as bad:
        _make(*argv, env=env, size=1)
    assert str(bad.value).startswith(message)


def test_enabled_by_flag_or_variable() -> None:
    assert settings.enabled(_args("--ha"), {}) is True
    assert settings.enabled(_args(), {"CORE_HA": "true"}) is True
    assert settings.enabled(_args(), {}) is False
    with pytest.raises(ConfigError, match="CORE_HA: invalid value 'maybe'"):
        settings.enabled(_args(), {"CORE_HA": "maybe"})

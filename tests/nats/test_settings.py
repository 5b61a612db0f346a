"""Flags, their environment variables, and one-line errors that name the setting."""

from __future__ import annotations

import argparse

import pytest

from core.nats import settings
from core.nats.errors import NatsConfigError


def parse(*argv: str, env: dict[str, str] | None = None) -> settings.NatsSettings:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    return settings.from_args(parser.parse_args(list(argv)), env or {})


def test_defaults() -> None:
    s = parse()
    assert (s.host, s.port, s.monitor_port, s.cluster_port, s.gateway_port, s.leaf_port) == (
        "127.0.0.1",
        4222,
        8222,
        4244,
        7244,
        7422,
    )
    assert s.name is None and s.hostname and s.routes == () and s.url is None
    assert not s.unsafe_async_fsync and s.topology == "auto" and not s.hub_and_spoke


def test_flag_beats_env_beats_default() -> None:
    env = {"NATS_PORT": "5000", "PB_NAME": "from-env", "FLY_REGION": "ams", "NATS_UNSAFE_ASYNC_FSYNC": "true"}
    s = parse("--nats-port", "6000", env=env)
    assert s.port == 6000 and s.name == "from-env" and s.region == "ams" and s.unsafe_async_fsync
    assert s.source("nats_port") == "--nats-port" and s.source("name") == "PB_NAME"


def test_peer_urls_are_normalised() -> None:
    s = parse("--nats-routes", "10.0.0.1, nats://10.0.0.2:5000,[fdaa::3]", "--nats-hub", "hub.example:7000")
    assert s.routes == ("nats://10.0.0.1:4244", "nats://10.0.0.2:5000", "nats://[fdaa::3]:4244")
    assert s.hub == ("nats://hub.example:7000",)
    assert parse(env={"PB_REPLICATION_URL": "nats://a:1,b"}).url == "nats://a:1,nats://b:4222"


@pytest.mark.parametrize(
    "argv, env, message",
    [
        (["--nats-port", "http"], {}, "--nats-port: 'http' is not a port number"),
        ([], {"NATS_PORT": "99999"}, "NATS_PORT: '99999' is not a port number"),
        (["--nats-cluster-port", "0"], {}, "--nats-cluster-port: port 0"),
        ([], {"NATS_UNSAFE_ASYNC_FSYNC": "maybe"}, "NATS_UNSAFE_ASYNC_FSYNC: 'maybe' is not a boolean"),
        ([], {"NATS_PILLOW_HUB_AND_SPOKE": "yes please"}, "NATS_PILLOW_HUB_AND_SPOKE"),
        (["--nats-topology", "k8s"], {}, "--nats-topology: 'k8s' is not one of auto, static, fly"),
        (["--name", "two words"], {}, "--name: 'two words'"),
        ([], {"FLY_REGION": "a/b"}, "FLY_REGION: 'a/b'"),
        (["--nats-host", "my host"], {}, "--nats-host: 'my host' is not an IP address"),
        (["--nats-routes", "http://x:1"], {}, "--nats-routes: 'http://x:1'"),
        (["--nats-hub", "nats://:7422"], {}, "--nats-hub: 'nats://:7422'"),
        (["--nats-routes", "x:notaport"], {}, "--nats-routes: 'x:notaport'"),
    ],
)
def test_bad_values_name_the_setting(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(NatsConfigError) as caught:
        parse(*argv, env=env)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_client_host_for_wildcard_binds() -> None:
    assert parse("--nats-host", "0.0.0.0").client_host == "127.0.0.1"
    assert parse("--nats-host", "::").client_host == "::1"
    assert parse("--nats-host", "10.1.2.3").client_host == "10.1.2.3"

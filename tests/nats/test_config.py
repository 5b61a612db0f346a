"""Rendered nats-server configs: the safety choices are in the text, and nats-server accepts it."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from core.nats import auth, config, settings, topology
from core.nats.process import find_binary
from tests.nats.test_topology import AMS, IAD, dns, fly_env


def make(*argv: str, env: dict[str, str] | None = None) -> settings.NatsSettings:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    return settings.from_args(parser.parse_args(list(argv)), env or {})


@pytest.fixture(scope="module")
def bundle() -> auth.AuthBundle:
    return auth.create_bundle()


def server_auth(bundle: auth.AuthBundle, tmp: Path, leaf: bool = False) -> config.ServerAuth:
    operator = tmp / "operator.jwt"
    operator.write_text(bundle.operator_jwt)
    creds_file = tmp / "leaf.creds"
    creds_file.write_text("placeholder")
    return config.ServerAuth(
        operator_jwt=operator,
        system_account=bundle.system_account.public_key,
        accounts={a.public_key: a.jwt for a in bundle.server_accounts()},
        cluster_secret=bundle.cluster_secret,
        leaf_creds=tuple((a.public_key, creds_file) for a in bundle.server_accounts()) if leaf else (),
    )


def render(plan: topology.Plan, bundle: auth.AuthBundle, tmp: Path, **kw: bool) -> str:
    return config.render(
        plan,
        server_auth(bundle, tmp, leaf=bool(plan.leaf_remotes)),
        store_dir=tmp / "js",
        resolver_dir=tmp / "jwt",
        **kw,
    )


def nats_server_accepts(text: str, tmp: Path) -> None:
    path = tmp / "test.conf"
    path.write_text(text)
    result = subprocess.run(
        [str(find_binary({})), "-t", "-c", str(path)], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_single_node(bundle: auth.AuthBundle, tmp_path: Path) -> None:
    text = render(topology.plan(make("--name", "n1", "--nats-host", "0.0.0.0"), {}), bundle, tmp_path)
    assert 'listen: "0.0.0.0:4222"' in text
    assert 'http: "127.0.0.1:8222"' in text  # monitoring stays on loopback whatever the bind
    assert "type: full" in text and bundle.system_account.public_key in text
    assert "sync_interval: always" in text
    assert "no_auth_user" not in text and "authorization" not in text
    assert bundle.operator_seed not in text and bundle.accounts["app"].seed not in text
    nats_server_accepts(text, tmp_path)


def test_unsafe_fsync_and_no_monitor(bundle: auth.AuthBundle, tmp_path: Path) -> None:
    s = make("--nats-unsafe-async-fsync", "--nats-monitor-port", "0")
    text = render(topology.plan(s, {}), bundle, tmp_path, sync_always=False)
    assert "sync_interval: always" not in text and "http:" not in text
    nats_server_accepts(text, tmp_path)


def test_static_mesh_routes_carry_the_secret(bundle: auth.AuthBundle, tmp_path: Path) -> None:
    plan = topology.plan(make("--name", "a", "--nats-routes", "127.0.0.1:4245,nats://u:p@127.0.0.1:4246"), {})
    text = render(plan, bundle, tmp_path)
    assert f"nats://core-route:{bundle.cluster_secret}@127.0.0.1:4245" in text
    assert "nats://u:p@127.0.0.1:4246" in text  # the user's own credentials are kept
    assert f'authorization: {{ user: "core-route", password: "{bundle.cluster_secret}" }}' in text
    nats_server_accepts(text, tmp_path)


def test_fly_mesh_with_gateways(bundle: auth.AuthBundle, tmp_path: Path) -> None:
    plan = topology.plan(
        make(), fly_env(ip="127.0.0.1"), dns({"ams": ("127.0.0.1", "127.0.0.2"), "iad": IAD})
    )
    text = render(plan, bundle, tmp_path)
    assert "gateway: {" in text and 'name: "core-ams"' in text and 'name: "core-iad"' in text
    assert not config.is_spoke(text)  # gateway remotes are no hub
    assert f"core-gateway:{bundle.cluster_secret}@[{IAD[0]}]:7244" in text
    nats_server_accepts(text, tmp_path)


def test_fly_spoke_has_one_remote_per_account(bundle: auth.AuthBundle, tmp_path: Path) -> None:
    s = make("--nats-hub-and-spoke")
    plan = topology.plan(s, fly_env(region="iad", ip="127.0.0.1"), dns({"ams": AMS}))
    text = render(plan, bundle, tmp_path)
    assert text.count("credentials:") == len(bundle.server_accounts())
    assert 'domain: "leaf-iad-m1"' in text and f"nats-leaf://[{AMS[0]}]:7422" in text
    assert config.is_spoke(text)
    nats_server_accepts(text, tmp_path)

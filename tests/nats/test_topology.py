"""The planner, one case per mode and per Fly.io quirk. Pure: no process, no network."""

from __future__ import annotations

import argparse

import pytest

from core.nats import settings, topology
from core.nats.errors import NatsConfigError
from core.nats.topology import FlyDns

APP = "pb"
ME = "fdaa:0:1::1"
AMS = ("fdaa:0:1::1", "fdaa:0:1::2", "fdaa:0:1::3")
IAD = ("fdaa:0:2::1", "fdaa:0:2::2", "fdaa:0:2::3")
WORKER = "fdaa:0:9::9"  # a machine of another process group


def fly_env(region: str = "ams", primary: str = "ams", ip: str = ME, **extra: str) -> dict[str, str]:
    return {
        "FLY_APP_NAME": APP,
        "FLY_REGION": region,
        "FLY_MACHINE_ID": "m1",
        "FLY_PRIVATE_IP": ip,
        "FLY_PROCESS_GROUP": "app",
        "PRIMARY_REGION": primary,
        **extra,
    }


def make(*argv: str, env: dict[str, str] | None = None) -> settings.NatsSettings:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    return settings.from_args(parser.parse_args(list(argv)), env or {})


def dns(regions: dict[str, tuple[str, ...]], group: tuple[str, ...] | None = None) -> FlyDns:
    every = tuple(ip for ips in regions.values() for ip in ips)
    return FlyDns(regions=tuple(regions), region_ips=regions, group_ips=every if group is None else group)


# ---- static ---------------------------------------------------------------------------------


def test_static_single_node_has_no_cluster_and_listens_for_leaves() -> None:
    # any node that takes leaves answers them in the hub domain, where a spoke keeps its changelog
    plan = topology.plan(make("--name", "n1"), {})
    assert plan.server_name == "n1" and plan.cluster is None and plan.gateway is None
    assert (plan.client_host, plan.client_port, plan.monitor_port) == ("127.0.0.1", 4222, 8222)
    assert plan.leaf_listen == ("127.0.0.1", 7422) and plan.leaf_remotes == () and plan.js_domain == "hub"


def test_static_default_name_is_the_hostname() -> None:
    s = make()
    assert topology.plan(s, {}).server_name == s.hostname


def test_static_mesh_from_routes() -> None:
    s = make(
        "--name", "n2", "--region", "eu", "--nats-host", "10.0.0.2", "--nats-routes", "10.0.0.1,10.0.0.3:5000"
    )
    plan = topology.plan(s, {})
    assert plan.cluster == topology.Cluster(
        "core-eu", "10.0.0.2", 4244, ("nats://10.0.0.1:4244", "nats://10.0.0.3:5000")
    )


def test_static_spoke_of_a_hub() -> None:
    plan = topology.plan(make("--name", "edge1", "--nats-hub", "hub1:7422,hub2"), {})
    assert plan.leaf_remotes == ("nats://hub1:7422", "nats://hub2:7422")
    assert plan.leaf_listen is None and plan.js_domain == "leaf-edge1" and plan.cluster is None


def test_static_topology_ignores_fly_env() -> None:
    plan = topology.plan(make("--nats-topology", "static", "--name", "n"), fly_env())
    assert plan.cluster is None and plan.client_host == "127.0.0.1"


# ---- Fly.io mesh ----------------------------------------------------------------------------


def test_fly_mesh_full_mesh_in_region_and_gateways_between_regions() -> None:
    answers = dns({"ams": AMS, "iad": IAD}, group=AMS + IAD)
    plan = topology.plan(make(), fly_env(), answers)
    assert plan.server_name == "m1"  # the machine id, unique by construction
    assert plan.cluster == topology.Cluster(
        "core-ams", ME, 4244, ("nats://[fdaa:0:1::2]:4244", "nats://[fdaa:0:1::3]:4244")
    )
    assert plan.gateway is not None and plan.gateway.name == "core-ams" and plan.gateway.host == ME
    assert plan.gateway.remotes == (("core-iad", tuple(f"nats://[{ip}]:7244" for ip in IAD)),)
    assert plan.client_host == "127.0.0.1"  # clients stay on loopback unless --nats-host says otherwise
    assert plan.leaf_listen is None and plan.js_domain is None and plan.warnings == ()


def test_fly_mesh_only_peers_of_the_same_process_group() -> None:
    answers = dns({"ams": (*AMS, WORKER)}, group=AMS)
    plan = topology.plan(make(), fly_env(), answers)
    assert plan.cluster is not None and all(WORKER not in r for r in plan.cluster.routes)


def test_fly_machine_that_cannot_resolve_itself_at_boot() -> None:
    # Fly quirk: the machine's own AAAA record is missing at boot; it still counts itself.
    answers = dns({"ams": AMS[1:]}, group=AMS[1:])
    plan = topology.plan(make(), fly_env(), answers)
    assert plan.cluster is not None and len(plan.cluster.routes) == 2
    assert plan.warnings == ()  # 3 machines, itself included


def test_fly_alone_routes_to_itself_and_says_so() -> None:
    plan = topology.plan(make(), fly_env(), FlyDns())  # DNS had nothing at all
    assert plan.cluster is not None and plan.cluster.routes == (f"nats://[{ME}]:4244",)
    assert plan.gateway is not None and plan.gateway.remotes == ()
    assert any("no other machine" in w for w in plan.warnings)
    assert any("region ams has 1 machine" in w for w in plan.warnings)


def test_fly_region_with_fewer_than_three_machines_is_planned_with_a_warning() -> None:
    answers = dns({"ams": AMS[:2], "iad": IAD})
    plan = topology.plan(make(), fly_env(), answers)
    assert plan.cluster is not None and plan.cluster.routes == ("nats://[fdaa:0:1::2]:4244",)
    assert plan.warnings == (
        "region ams has 2 machine(s): R3 JetStream streams need 3 there, and a cluster of 2 stops when either machine does",
    )


def test_fly_region_listed_but_empty_gets_no_gateway() -> None:
    answers = FlyDns(regions=("ams", "syd"), region_ips={"ams": AMS, "syd": ()}, group_ips=AMS)
    plan = topology.plan(make(), fly_env(), answers)
    assert plan.gateway is not None and plan.gateway.remotes == ()


def test_fly_failed_group_lookup_does_not_hide_peers() -> None:
    answers = FlyDns(regions=("ams",), region_ips={"ams": AMS}, group_ips=())
    plan = topology.plan(make(), fly_env(), answers)
    assert plan.cluster is not None and len(plan.cluster.routes) == 2


def test_fly_ports_and_explicit_name_are_honoured() -> None:
    s = make(
        "--name", "web-1", "--nats-cluster-port", "5244", "--nats-gateway-port", "8244", "--nats-port", "4333"
    )
    plan = topology.plan(s, fly_env(), dns({"ams": AMS, "iad": IAD}))
    assert plan.server_name == "web-1" and plan.client_port == 4333
    assert plan.cluster is not None and plan.cluster.port == 5244 and plan.cluster.routes[0].endswith(":5244")
    assert plan.gateway is not None and plan.gateway.remotes[0][1][0].endswith(":8244")


# ---- Fly.io hub and spoke -------------------------------------------------------------------


def test_fly_hub_in_primary_region() -> None:
    s = make(env={"NATS_PILLOW_HUB_AND_SPOKE": "true"})
    plan = topology.plan(s, fly_env(), dns({"ams": AMS, "iad": IAD}))
    assert plan.cluster is not None and plan.cluster.name == "core-hub" and len(plan.cluster.routes) == 2
    assert plan.leaf_listen == (ME, 7422) and plan.js_domain == "hub" and plan.gateway is None


def test_fly_spoke_outside_primary_region() -> None:
    s = make(env={"NATS_PILLOW_HUB_AND_SPOKE": "1"})
    plan = topology.plan(s, fly_env(region="iad", ip=IAD[0]), dns({"ams": AMS}))
    assert plan.cluster is None and plan.gateway is None and plan.leaf_listen is None
    assert plan.leaf_remotes == tuple(f"nats-leaf://[{ip}]:7422" for ip in AMS)
    assert plan.js_domain == "leaf-iad-m1"


def test_fly_spoke_without_a_visible_hub_waits_for_it() -> None:
    s = make("--nats-hub-and-spoke")
    plan = topology.plan(s, fly_env(region="iad", ip=IAD[0]), FlyDns())
    assert plan.leaf_remotes == () and "no hub machine found in PRIMARY_REGION ams" in plan.warnings[0]


def test_fly_single_hub_machine_warns() -> None:
    plan = topology.plan(make("--nats-hub-and-spoke"), fly_env(), FlyDns())
    assert plan.cluster is not None and plan.cluster.routes == (f"nats://[{ME}]:4244",)
    assert any("no other hub machine" in w for w in plan.warnings)


# ---- errors and reloads ---------------------------------------------------------------------


@pytest.mark.parametrize("missing", topology.FLY_VARS[1:])
def test_missing_fly_variable_is_named(missing: str) -> None:
    env = fly_env()
    del env[missing]
    with pytest.raises(NatsConfigError, match=f"^{missing}: not set"):
        topology.plan(make(), env, FlyDns())


def test_forced_fly_mode_without_fly_env() -> None:
    with pytest.raises(NatsConfigError, match="^FLY_APP_NAME: not set"):
        topology.plan(make("--nats-topology", "fly"), {}, FlyDns())


def test_bad_private_ip() -> None:
    with pytest.raises(NatsConfigError, match="^FLY_PRIVATE_IP"):
        topology.plan(make(), fly_env(ip="nope"), FlyDns())


def test_static_peers_do_not_mix_with_fly() -> None:
    with pytest.raises(NatsConfigError, match="^--nats-routes"):
        topology.plan(make("--nats-routes", "x"), fly_env(), FlyDns())


def test_reloadable_change_keeps_gateways_and_reports_route_changes() -> None:
    before = topology.plan(make(), fly_env(), dns({"ams": AMS[:2], "iad": IAD}))
    after = topology.plan(make(), fly_env(), dns({"ams": AMS, "iad": IAD[:1], "ord": ("fdaa:0:3::1",)}))
    merged = before.reloadable_change(after)
    assert merged is not None and merged.cluster is not None and after.cluster is not None
    assert merged.cluster.routes == after.cluster.routes
    assert merged.gateway == before.gateway  # gateways cannot be reloaded
    assert before.reloadable_change(before) is None
    spoke_env = fly_env(region="iad", ip=IAD[0])
    spoke = make("--nats-hub-and-spoke")
    lonely = topology.plan(spoke, spoke_env, FlyDns())
    found = topology.plan(spoke, spoke_env, dns({"ams": AMS}))
    change = lonely.reloadable_change(found)
    assert change is not None and change.leaf_remotes == found.leaf_remotes

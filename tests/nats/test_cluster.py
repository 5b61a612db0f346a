"""Multi-node topologies with real nats-server processes on loopback addresses only.

Fly.io tests give each machine its own 127.0.0.x address (all of 127/8 is loopback on Linux) and
answer the planner's DNS questions from a fake resolver, so no packet leaves the machine.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import time
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import PubAck

from core.nats import cli
from core.nats.fly_dns import TYPE_AAAA, TYPE_TXT, DnsError
from core.nats.service import NatsService
from tests.nats.conftest import StartNode, free_port, run_cli

pytestmark = pytest.mark.slow


async def crosses(pub: Client, sub: Client, subject: str, timeout: float = 10.0) -> bytes:
    """Publish on one node until a subscriber on another receives it (interest takes a moment to spread)."""
    inbox = await sub.subscribe(subject)
    await sub.flush()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            await pub.publish(subject, subject.encode())
            try:
                return (await inbox.next_msg(timeout=0.2)).data
            except nats.errors.TimeoutError:
                continue
        raise AssertionError(f"{subject}: no message crossed within {timeout}s")
    finally:
        await inbox.unsubscribe()


def share_auth(source: Path, *targets: Path) -> None:
    """One operator for all nodes: the first target by export/import, the others by copying the dir."""
    bundle = source / "bundle.txt"
    assert cli.main(["auth", "export", "--dir", str(source), "-o", str(bundle)]) == 0
    assert cli.main(["auth", "import", str(bundle), "--dir", str(targets[0])]) == 0
    for target in targets[1:]:
        shutil.copytree(source / "nats-auth", target / "nats-auth")


async def test_static_mesh_of_three_with_an_r3_stream_that_survives_a_kill(
    start_node: StartNode, tmp_path: Path
) -> None:
    dirs = [tmp_path / f"n{i}" for i in range(1, 4)]
    for d in dirs:
        d.mkdir()
    from core.nats.auth import AuthStore

    AuthStore(dirs[0] / "nats-auth").load_or_create()
    share_auth(dirs[0], dirs[1], dirs[2])
    cluster_ports = [free_port() for _ in dirs]
    routes = ",".join(f"127.0.0.1:{p}" for p in cluster_ports)
    nodes: list[NatsService] = list(
        await asyncio.gather(
            *(
                start_node(d, name=d.name, region="lab", nats_cluster_port=port, nats_routes=routes)
                for d, port in zip(dirs, cluster_ports, strict=True)
            )
        )
    )
    n1, n2, n3 = nodes
    assert await crosses(n1.nc, n2.nc, "mesh.a") == b"mesh.a"
    assert await crosses(n1.nc, n3.nc, "mesh.b") == b"mesh.b"
    assert await crosses(n3.nc, n1.nc, "mesh.c") == b"mesh.c"

    # `core nats account add` reaches every server of the mesh through one of them
    add = await asyncio.to_thread(
        run_cli, "account", "add", "tenant", "--dir", str(dirs[0]), "--nats-port", str(n1.settings.port)
    )
    assert "pushed to 3 server(s)" in add.stdout, add.stderr
    tenant = dirs[0] / "tenant.creds"
    assert cli.main(["creds", "t", "--account", "tenant", "--dir", str(dirs[0]), "-o", str(tenant)]) == 0
    nc = await nats.connect(n3.client_url, user_credentials=str(tenant), allow_reconnect=False)
    await nc.close()

    await n1.jetstream_ready()
    await n1.js.add_stream(name="r3", subjects=["r3.>"], num_replicas=3)
    for i in range(10):
        await publish(n1, "r3.x", f"{i}".encode())

    # kill -9 a follower's nats-server (killing the leader would only add an election to wait for),
    # and hold it down for a while: its supervisor would otherwise bring it back in 0.5s
    info = await n1.js.stream_info("r3")
    assert info.cluster is not None
    victim, writer = [n for n in nodes if n.settings.name != info.cluster.leader]
    name = victim.settings.name
    assert victim.supervisor is not None and victim.supervisor.process is not None
    victim.supervisor.first_delay = 5.0
    victim.supervisor.process.kill()
    await asyncio.wait_for(victim.supervisor.process.wait(), 5)
    for i in range(10, 20):
        ack = await publish(writer, "r3.x", f"{i}".encode())
        assert ack.seq == i + 1
    assert (await writer.js.get_msg("r3", 15)).data == b"14"
    assert (await writer.js.stream_info("r3")).state.messages == 20
    # all of the above happened while the victim was down
    assert victim.supervisor.restarts == 0 and not victim.supervisor.process.running

    # it comes back and catches up
    deadline = time.monotonic() + 30
    caught_up = False
    while time.monotonic() < deadline and not caught_up:
        await asyncio.sleep(0.3)
        try:
            info = await writer.js.stream_info("r3")
        except Exception:
            continue
        replicas = {r.name: r for r in (info.cluster.replicas or [])} if info.cluster else {}
        me = replicas.get(name)
        caught_up = (
            victim.supervisor.restarts == 1
            and me is not None
            and me.current
            and not me.offline
            and not me.lag
        )
    assert caught_up, f"{name} did not catch up"
    # proof from the victim itself: make it the stream leader, then read everything through it
    await _prefer_leader(victim, "r3", name)
    info = await victim.js.stream_info("r3")
    assert info.cluster is not None and info.cluster.leader == name
    assert info.state.messages == 20 and (await victim.js.get_msg("r3", 20)).data == b"19"


async def publish(node: NatsService, subject: str, data: bytes) -> PubAck:
    """Publish and wait for the ack, retrying while a new stream's interest spreads or a leader is elected."""
    deadline = time.monotonic() + 15
    while True:
        try:
            # The message id makes a retry of a publish whose ack got lost a no-op (dedup window).
            return await node.js.publish(subject, data, timeout=2, headers={"Nats-Msg-Id": data.decode()})
        except (nats.js.errors.NoStreamResponseError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _prefer_leader(node: NatsService, stream: str, name: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        info = await node.js.stream_info(stream)
        if info.cluster is not None and info.cluster.leader == name:
            return
        payload = json.dumps({"placement": {"preferred": name}}).encode()
        try:
            await node.nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", payload, timeout=5)
        except nats.errors.Error:
            pass
        await asyncio.sleep(1.0)
    raise AssertionError(f"{name} never became leader of {stream}")


async def test_hub_with_two_leaves(start_node: StartNode, tmp_path: Path) -> None:
    hub_dir, leaf1_dir, leaf2_dir = (tmp_path / n for n in ("hub", "leaf1", "leaf2"))
    for d in (hub_dir, leaf1_dir, leaf2_dir):
        d.mkdir()
    hub = await start_node(hub_dir, name="hub")
    share_auth(hub_dir, leaf1_dir, leaf2_dir)
    hub_url = f"127.0.0.1:{hub.settings.leaf_port}"
    leaf1, leaf2 = await asyncio.gather(
        start_node(leaf1_dir, name="leaf1", nats_hub=hub_url),
        start_node(leaf2_dir, name="leaf2", nats_hub=hub_url),
    )
    assert await crosses(leaf1.nc, hub.nc, "up") == b"up"
    assert await crosses(hub.nc, leaf2.nc, "down") == b"down"
    assert await crosses(leaf1.nc, leaf2.nc, "across") == b"across"
    # each leaf keeps its own JetStream domain
    await leaf1.js.add_stream(name="local", subjects=["local.>"])
    assert (await leaf1.js.publish("local.x", b"1")).domain == "leaf-leaf1"


class FakeFlyDns:
    """Answers the planner's Fly.io DNS questions from a dict (names to records)."""

    def __init__(self) -> None:
        self.zone: dict[tuple[str, int], list[str]] = {}
        self.broken = False

    async def query(self, name: str, qtype: int) -> list[str]:
        if self.broken:
            raise DnsError(f"no DNS answer for {name}")
        return list(self.zone.get((name, qtype), []))


def fly_env(region: str, ip: str, machine: str, **extra: str) -> dict[str, str]:
    return {
        "FLY_APP_NAME": "pb",
        "FLY_REGION": region,
        "FLY_MACHINE_ID": machine,
        "FLY_PRIVATE_IP": ip,
        "FLY_PROCESS_GROUP": "app",
        "PRIMARY_REGION": "ams",
        **extra,
    }


def port_free_on(*hosts: str) -> int:
    for _ in range(50):
        port = free_port(hosts[0])
        try:
            for host in hosts[1:]:
                with socket.socket() as sock:
                    sock.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no common free port")


async def test_fly_two_regions_joined_by_gateways(start_node: StartNode, tmp_path: Path) -> None:
    dns = FakeFlyDns()
    dns.zone[("regions.pb.internal", TYPE_TXT)] = ["ams,iad"]
    dns.zone[("ams.pb.internal", TYPE_AAAA)] = ["127.0.0.2"]
    dns.zone[("iad.pb.internal", TYPE_AAAA)] = ["127.0.0.3"]
    dns.zone[("app.process.pb.internal", TYPE_AAAA)] = ["127.0.0.2", "127.0.0.3"]
    ams_dir, iad_dir = tmp_path / "ams", tmp_path / "iad"
    iad_dir.mkdir()
    from core.nats.auth import AuthStore

    AuthStore(ams_dir / "nats-auth").load_or_create()
    share_auth(ams_dir, iad_dir)
    # Fly machines share port numbers on different addresses
    shared = {
        "nats_cluster_port": port_free_on("127.0.0.2", "127.0.0.3"),
        "nats_gateway_port": port_free_on("127.0.0.2", "127.0.0.3"),
    }
    ams, iad = await asyncio.gather(
        start_node(ams_dir, env=fly_env("ams", "127.0.0.2", "m-ams"), resolver=dns, **shared),
        start_node(iad_dir, env=fly_env("iad", "127.0.0.3", "m-iad"), resolver=dns, **shared),
    )
    assert ams.plan is not None and ams.plan.gateway is not None
    assert ams.plan.gateway.remotes == (("core-iad", (f"nats://127.0.0.3:{shared['nats_gateway_port']}",)),)
    assert await crosses(ams.nc, iad.nc, "to.iad") == b"to.iad"
    assert await crosses(iad.nc, ams.nc, "to.ams") == b"to.ams"


async def test_fly_spoke_follows_dns_and_reloads_when_the_hub_appears(
    start_node: StartNode, tmp_path: Path
) -> None:
    dns = FakeFlyDns()
    hub_dir, spoke_dir = tmp_path / "hub", tmp_path / "spoke"
    spoke_dir.mkdir()
    from core.nats.auth import AuthStore

    AuthStore(hub_dir / "nats-auth").load_or_create()
    share_auth(hub_dir, spoke_dir)
    shared = {"nats_leaf_port": port_free_on("127.0.0.2", "127.0.0.3")}
    hub_and_spoke = {"NATS_PILLOW_HUB_AND_SPOKE": "true"}
    # The spoke boots first and sees no hub in PRIMARY_REGION yet.
    spoke = await start_node(
        spoke_dir,
        env=fly_env("iad", "127.0.0.3", "m-iad", **hub_and_spoke),
        resolver=dns,
        resolve_interval=0.2,
        **shared,
    )
    assert spoke.plan is not None and spoke.plan.leaf_remotes == ()
    dns.zone[("ams.pb.internal", TYPE_AAAA)] = ["127.0.0.2"]
    dns.zone[("app.process.pb.internal", TYPE_AAAA)] = ["127.0.0.2", "127.0.0.3"]
    hub = await start_node(
        hub_dir, env=fly_env("ams", "127.0.0.2", "m-ams", **hub_and_spoke), resolver=dns, **shared
    )
    assert hub.plan is not None and hub.plan.leaf_listen == ("127.0.0.2", shared["nats_leaf_port"])
    assert await crosses(spoke.nc, hub.nc, "spoke.up", timeout=15) == b"spoke.up"
    assert await crosses(hub.nc, spoke.nc, "hub.down") == b"hub.down"
    assert spoke.plan.leaf_remotes == (f"nats-leaf://127.0.0.2:{shared['nats_leaf_port']}",)
    assert spoke.supervisor is not None and spoke.supervisor.restarts == 0  # a reload, not a restart
    # a DNS outage is not read as "the hub is gone": the remotes stay
    dns.broken = True
    assert await spoke.refresh_topology() is False
    assert spoke.plan.leaf_remotes == (f"nats-leaf://127.0.0.2:{shared['nats_leaf_port']}",)

"""The topology planner: settings + environment + DNS answers in, a server plan out. Pure.

Three shapes, all from one function, `plan`:
- static: a lone node, or a mesh from `--nats-routes`, or a spoke of `--nats-hub`;
- Fly.io mesh (Pillow's FlyioClustering): a full mesh per region, regions joined by gateways;
- Fly.io hub and spoke (Pillow's FlyioHubAndSpoke): a hub cluster in PRIMARY_REGION, every other
  machine a standalone leaf of it.
The DNS answers come from `fly_dns.lookup`; the quirks of Fly's DNS are handled here so they can be
unit-tested: a machine may not see its own address at boot, and answers only list started machines.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from core.nats.errors import NatsConfigError
from core.nats.settings import NatsSettings

FLY_VARS = (
    "FLY_APP_NAME",
    "FLY_REGION",
    "FLY_MACHINE_ID",
    "FLY_PRIVATE_IP",
    "FLY_PROCESS_GROUP",
    "PRIMARY_REGION",
)
CLUSTER_PREFIX = "core"
HUB_DOMAIN = "hub"
R3 = 3


@dataclass(frozen=True)
class FlyEnv:
    app: str
    region: str
    machine_id: str
    private_ip: str
    process_group: str
    primary_region: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FlyEnv:
        missing = [name for name in FLY_VARS if not env.get(name)]
        if missing:
            raise NatsConfigError(
                f"{missing[0]}: not set, but Fly.io mode needs {', '.join(FLY_VARS)} "
                "(use --nats-topology static to run without Fly.io clustering)"
            )
        try:
            private_ip = ipaddress.ip_address(env["FLY_PRIVATE_IP"]).compressed
        except ValueError:
            raise NatsConfigError(f"FLY_PRIVATE_IP: {env['FLY_PRIVATE_IP']!r} is not an IP address") from None
        return cls(
            app=env["FLY_APP_NAME"],
            region=env["FLY_REGION"],
            machine_id=env["FLY_MACHINE_ID"],
            private_ip=private_ip,
            process_group=env["FLY_PROCESS_GROUP"],
            primary_region=env["PRIMARY_REGION"],
        )

    # The names that `fly_dns.lookup` asks, kept here so the planner and the lookup agree.
    @property
    def regions_name(self) -> str:
        return f"regions.{self.app}.internal"

    @property
    def group_name(self) -> str:
        return f"{self.process_group}.process.{self.app}.internal"

    def region_name(self, region: str) -> str:
        return f"{region}.{self.app}.internal"


@dataclass(frozen=True)
class FlyDns:
    """Raw answers from Fly's internal DNS (started machines only)."""

    regions: tuple[str, ...] = ()  # TXT regions.<app>.internal
    region_ips: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # AAAA <region>.<app>.internal
    group_ips: tuple[str, ...] = ()  # AAAA <group>.process.<app>.internal
    complete: bool = True  # False when a question got no answer (not even NXDOMAIN)


@dataclass(frozen=True)
class Cluster:
    name: str
    host: str
    port: int
    routes: tuple[str, ...]


@dataclass(frozen=True)
class Gateway:
    name: str
    host: str
    port: int
    remotes: tuple[tuple[str, tuple[str, ...]], ...]  # (gateway name, URLs), sorted


@dataclass(frozen=True)
class Plan:
    server_name: str
    client_host: str
    client_port: int
    monitor_port: int  # 0: no monitoring listener
    cluster: Cluster | None = None
    gateway: Gateway | None = None
    leaf_listen: tuple[str, int] | None = None
    leaf_remotes: tuple[str, ...] = ()
    js_domain: str | None = None
    warnings: tuple[str, ...] = ()

    def reloadable_change(self, new: Plan) -> Plan | None:
        """What to run after DNS changed: `new` with what nats-server cannot reload kept as is.

        Routes and leafnode remotes reload on SIGHUP; gateways, cluster names and listeners
        do not (a reload touching them is refused whole). None when nothing reloadable changed.
        """
        routes = new.cluster.routes if new.cluster and self.cluster else None
        merged = replace(
            self,
            cluster=replace(self.cluster, routes=routes)
            if self.cluster and routes is not None
            else self.cluster,
            leaf_remotes=new.leaf_remotes,
            warnings=new.warnings,
        )
        if (merged.cluster, merged.leaf_remotes) == (self.cluster, self.leaf_remotes):
            return None
        return merged


def is_fly(settings: NatsSettings, env: Mapping[str, str]) -> bool:
    if settings.topology == "auto":
        return bool(env.get("FLY_APP_NAME"))
    return settings.topology == "fly"


def plan(settings: NatsSettings, env: Mapping[str, str], dns: FlyDns | None = None) -> Plan:
    """The nats-server plan for this node. Fly.io mode needs `dns` (an empty FlyDns if the lookup failed)."""
    if not is_fly(settings, env):
        return plan_static(settings)
    fly = FlyEnv.from_env(env)
    if settings.routes or settings.hub:
        flag = settings.source("nats_routes" if settings.routes else "nats_hub")
        raise NatsConfigError(
            f"{flag}: static peers cannot be mixed with Fly.io discovery (--nats-topology static)"
        )
    dns = dns or FlyDns()
    if settings.hub_and_spoke:
        return plan_fly_hub_and_spoke(settings, fly, dns)
    return plan_fly_mesh(settings, fly, dns)


def _base(settings: NatsSettings, server_name: str) -> Plan:
    return Plan(
        server_name=server_name,
        client_host=settings.host,
        client_port=settings.port,
        monitor_port=settings.monitor_port,
    )


def plan_static(settings: NatsSettings) -> Plan:
    name = settings.name or settings.hostname
    cluster_name = f"{CLUSTER_PREFIX}-{settings.region}" if settings.region else CLUSTER_PREFIX
    plan = _base(settings, name)
    # No routes, no cluster block: nats-server refuses clustered JetStream without routes, and a
    # lone node runs JetStream standalone.
    if settings.routes:
        plan = replace(
            plan, cluster=Cluster(cluster_name, settings.host, settings.cluster_port, settings.routes)
        )
    if settings.hub:
        # A spoke keeps its own JetStream domain, so its streams never merge with the hub's.
        return replace(plan, leaf_remotes=settings.hub, js_domain=f"leaf-{settings.region or name}")
    # Any node that takes leafnode connections may be a hub: its JetStream answers spokes in the
    # `hub` domain (as a Fly.io hub's does), which is where a spoke's `--ha` keeps the changelog.
    return replace(plan, leaf_listen=(settings.host, settings.leaf_port), js_domain=HUB_DOMAIN)


def changelog_domain(plan: Plan | None) -> str | None:
    """The JetStream domain of the cluster's shared streams (the `--ha` changelog, its buckets)
    as seen from this node: a spoke's own domain holds only what is local to it, so a spoke
    addresses its hub's; every other node its own (None)."""
    return HUB_DOMAIN if plan is not None and plan.leaf_remotes else None


def _ip(text: str) -> str | None:
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return None


def _url(scheme: str, ip: str, port: int) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    return f"{scheme}://{host}:{port}"


def machines_by_region(fly: FlyEnv, dns: FlyDns, regions: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Private IPs of this process group's started machines, per region, this machine included."""
    group = {ip for ip in map(_ip, dns.group_ips) if ip}
    found: dict[str, tuple[str, ...]] = {}
    for region in regions:
        ips = {ip for ip in map(_ip, dns.region_ips.get(region, ())) if ip}
        # An empty group answer means the lookup failed, not that no machine exists: keep all.
        if group:
            ips &= group
        if region == fly.region:
            # Fly quirk: a machine may not resolve its own .internal name at boot.
            ips.add(fly.private_ip)
        found[region] = tuple(sorted(ips, key=ipaddress.ip_address))
    return found


def _routes(fly: FlyEnv, ips: tuple[str, ...], port: int) -> tuple[str, ...]:
    peers = [ip for ip in ips if ip != fly.private_ip]
    # With no peer yet, a route to itself keeps the cluster block (nats-server cannot add one
    # on reload), so peers found later are a SIGHUP away. JetStream waits for the first peer.
    return tuple(_url("nats", ip, port) for ip in (peers or [fly.private_ip]))


def _small_region_warning(region: str, count: int) -> str:
    return (
        f"region {region} has {count} machine(s): R3 JetStream streams need {R3} there, "
        f"and a cluster of 2 stops when either machine does"
    )


def plan_fly_mesh(settings: NatsSettings, fly: FlyEnv, dns: FlyDns) -> Plan:
    regions = tuple(sorted({r for r in dns.regions if r} | {fly.region}))
    machines = machines_by_region(fly, dns, regions)
    warnings = []
    own = machines[fly.region]
    if len(own) < R3:
        warnings.append(_small_region_warning(fly.region, len(own)))
    if sum(len(ips) for ips in machines.values()) == 1:
        warnings.append("no other machine found yet: JetStream becomes available when a peer joins")
    remotes = tuple(
        (f"{CLUSTER_PREFIX}-{region}", tuple(_url("nats", ip, settings.gateway_port) for ip in ips))
        for region, ips in sorted(machines.items())
        if region != fly.region and ips
    )
    name = f"{CLUSTER_PREFIX}-{fly.region}"
    return replace(
        _base(settings, settings.name or fly.machine_id),
        cluster=Cluster(
            name, fly.private_ip, settings.cluster_port, _routes(fly, own, settings.cluster_port)
        ),
        gateway=Gateway(name, fly.private_ip, settings.gateway_port, remotes),
        warnings=tuple(warnings),
    )


def plan_fly_hub_and_spoke(settings: NatsSettings, fly: FlyEnv, dns: FlyDns) -> Plan:
    hub = machines_by_region(fly, dns, (fly.primary_region,))[fly.primary_region]
    base = _base(settings, settings.name or fly.machine_id)
    if fly.region == fly.primary_region:
        warnings = [_small_region_warning(fly.region, len(hub))] if len(hub) < R3 else []
        if len(hub) == 1:
            warnings.append("no other hub machine found yet: JetStream becomes available when a peer joins")
        routes = _routes(fly, hub, settings.cluster_port)
        return replace(
            base,
            cluster=Cluster(f"{CLUSTER_PREFIX}-hub", fly.private_ip, settings.cluster_port, routes),
            leaf_listen=(fly.private_ip, settings.leaf_port),
            js_domain=HUB_DOMAIN,
            warnings=tuple(warnings),
        )
    missing = () if hub else (f"no hub machine found in PRIMARY_REGION {fly.primary_region} yet: retrying",)
    return replace(
        base,
        leaf_remotes=tuple(_url("nats-leaf", ip, settings.leaf_port) for ip in hub),
        js_domain=f"leaf-{fly.region}-{fly.machine_id}",
        warnings=missing,
    )

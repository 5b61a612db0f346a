"""NatsService: what `core serve` holds. It starts the nats-server child (or points at an external
NATS), connects core to it with nats-py as core's service user, and keeps the topology current."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from core.nats import config, settings, topology
from core.nats.auth import (
    APP_ACCOUNT,
    INTERNAL_LEAF_CREDS,
    SERVICE_CREDS,
    SYSTEM_CREDS,
    AuthBundle,
    AuthStore,
)
from core.nats.client import connect, push_account, reachable
from core.nats.creds import write_secret
from core.nats.errors import CredentialsRefused, NatsConfigError, NatsError
from core.nats.fly_dns import Resolver, lookup
from core.nats.process import Supervisor, find_binary
from core.tasks import cancel_all

log = logging.getLogger("core.nats")

CONFIG_FILE = "nats-server.conf"
APP_CREDS = "core-app.creds"


def app_creds_file(store: AuthStore, bundle: AuthBundle) -> Path:
    """Core's own user of the `app` account: the `pb.*` streams (logs, record events) live there,
    where the users `core nats creds` and `/api/nats/token` issue can be granted them."""
    return store.user_creds(bundle.account(APP_ACCOUNT), APP_CREDS, "core-app")


class DnsResolver(Protocol):
    async def query(self, name: str, qtype: int) -> list[str]: ...


def _url_host(host: str, port: int) -> str:
    return f"nats://[{host}]:{port}" if ":" in host else f"nats://{host}:{port}"


class NatsService:
    def __init__(
        self,
        nats_settings: settings.NatsSettings,
        data_dir: Path,
        env: Mapping[str, str],
        *,
        resolver: DnsResolver | None = None,
        resolve_interval: float = 30.0,
    ) -> None:
        self.settings = nats_settings
        self.data_dir = data_dir
        self.env = dict(env)
        self.resolver = resolver
        self.resolve_interval = resolve_interval
        self.store = AuthStore(data_dir / "nats-auth")
        self.nats_dir = data_dir / "nats"
        self.bundle: AuthBundle | None = None
        self.plan: topology.Plan | None = None
        self.supervisor: Supervisor | None = None
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._app_nc: Client | None = None
        self._app_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._gateway_seen: topology.Gateway | None = None
        self._fly = (
            topology.FlyEnv.from_env(env)
            if topology.is_fly(nats_settings, env) and not nats_settings.url
            else None
        )

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, data_dir: Path, env: Mapping[str, str], **kwargs: Any
    ) -> NatsService:
        """Checks every setting now, so bad configuration fails before anything starts."""
        service = cls(settings.from_args(args, env), data_dir, env, **kwargs)
        if service._fly is None and not service.settings.url:
            topology.plan_static(service.settings)
        return service

    @property
    def nc(self) -> Client:
        if self._nc is None:
            raise NatsError("NATS is not started")
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise NatsError("NATS is not started")
        return self._js

    @property
    def client_url(self) -> str:
        if self.settings.url:
            return self.settings.url
        return _url_host(self.settings.client_host, self.settings.port)

    @property
    def config_path(self) -> Path:
        return self.nats_dir / CONFIG_FILE

    async def start(self) -> None:
        if self.settings.url:
            source = self.settings.source("nats_url")
            if self.settings.creds:
                self._nc = await connect(
                    self.settings.url, self.settings.creds, name=self._client_name(), source=source
                )
            else:
                self._nc = await self._connect_external_as_core(self.settings.url, source)
            self._js = self._nc.jetstream()
            log.info("NATS: using external %s", self.settings.url)
            return
        self.bundle = self.store.load_or_create(self.env.get("CORE_NATS_AUTH"))
        self.store.user_creds(self.bundle.system_account, SYSTEM_CREDS, "core-system")
        service_creds = self._service_creds()
        binary = find_binary(self.env)
        self.plan, _ = await self._make_plan()
        self._gateway_seen = self.plan.gateway
        for warning in self.plan.warnings:
            log.warning("NATS topology: %s", warning)
        self._write_config(self.plan)
        started = time.monotonic()
        self.supervisor = Supervisor(binary, self.config_path)
        try:
            await self.supervisor.start()
        except NatsError as exc:
            raise self._explain(exc) from None
        try:
            self._nc = await connect(
                self.client_url, service_creds, name=self._client_name(), source="--nats-port"
            )
        except BaseException:
            await self.supervisor.stop()
            raise
        self._js = self._nc.jetstream()
        log.info(
            "NATS: %s ready at %s in %.0f ms",
            self.plan.server_name,
            self.client_url,
            (time.monotonic() - started) * 1000,
        )
        await self._check_static_peers()
        if self._fly is not None:
            self._tasks.append(asyncio.create_task(self._follow_dns(), name="nats fly dns"))

    async def app_connection(self) -> Client:
        """A connection of core's user in the `app` account, opened on first use and shared."""
        async with self._app_lock:
            if self._app_nc is None:
                if self.bundle is None:
                    raise NatsError("no `app` account: core was given --nats-creds of a foreign NATS")
                creds_file = app_creds_file(self.store, self.bundle)
                source = self.settings.source("nats_url") if self.settings.url else "--nats-port"
                self._app_nc = await connect(
                    self.client_url, creds_file, name=f"{self._client_name()} (app)", source=source
                )
            return self._app_nc

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks.clear()
        if self._app_nc is not None:
            with contextlib.suppress(Exception):
                await self._app_nc.drain()
            self._app_nc = None
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = self._js = None
        if self.supervisor is not None:
            await self.supervisor.stop()
            self.supervisor = None

    async def jetstream_ready(self, timeout: float = 30.0) -> None:
        """Wait until JetStream answers (a clustered node waits for its meta leader)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.js.account_info()
                return
            except (TimeoutError, nats.errors.Error) as exc:
                if time.monotonic() > deadline:
                    raise NatsError(f"JetStream not ready after {timeout:.0f}s: {exc}") from None
                await asyncio.sleep(0.2)

    def cluster_size(self) -> int:
        """How many nats-servers the JetStream cluster has, as far as this node can tell: the
        route mesh of its plan, or (external NATS) the servers the connection learned of."""
        if self.plan is None:
            return max(1, len(self.nc.servers))
        cluster = self.plan.cluster
        if cluster is None:
            return 1
        peers = {(urlsplit(url).hostname, urlsplit(url).port) for url in cluster.routes}
        if cluster.host not in ("0.0.0.0", "::", ""):  # a wildcard bind is one of the routes already
            peers.add((cluster.host, cluster.port))
        return len(peers)

    def _client_name(self) -> str:
        return f"core {self.settings.name or self.settings.hostname}"

    async def _connect_external_as_core(self, url: str, source: str) -> Client:
        """Core's service user, minted from this node's copy of the operator the external NATS trusts.

        A server set up before the internal account existed (the nodes of an older core, or one
        configured by hand from `core nats auth export`) knows the operator but not CORE: it
        refuses the service user until CORE is pushed to it, as `core nats account add` would.
        """
        imported = self.env.get("CORE_NATS_AUTH")
        if not imported and not self.store.exists():
            raise NatsConfigError(
                f"{source}: needs --nats-creds, or this node's auth (`core nats auth import`)"
            )
        self.bundle = self.store.load_or_create(imported)
        name = self._client_name()
        service_creds = self._service_creds()
        try:
            return await connect(url, service_creds, name=name, source=source)
        except CredentialsRefused:
            sys_creds = self.store.user_creds(self.bundle.system_account, SYSTEM_CREDS, "core-system")
            replies = await push_account(
                url, sys_creds, self.bundle.internal_account.jwt, name=f"{name} (system)", source=source
            )
            if not any(r.get("data", {}).get("code") == 200 for r in replies):
                raise
            log.info("NATS: pushed core's internal account to %d server(s) at %s", len(replies), url)
        return await connect(url, service_creds, name=name, source=source)

    def _service_creds(self) -> Path:
        """Core's own user, in the internal account: no issued user can reach its traffic."""
        assert self.bundle is not None
        return self.store.user_creds(self.bundle.internal_account, SERVICE_CREDS, "core")

    async def _make_plan(self) -> tuple[topology.Plan, bool]:
        """The plan, and whether every DNS question was answered (always True off Fly.io)."""
        dns = None
        if self._fly is not None:
            resolver = self.resolver or Resolver()
            dns = await lookup(self._fly, resolver, hub_and_spoke=self.settings.hub_and_spoke)  # type: ignore[arg-type]
        return topology.plan(self.settings, self.env, dns), dns is None or dns.complete

    def _write_config(self, plan: topology.Plan) -> None:
        assert self.bundle is not None
        leaf_creds: tuple[tuple[str, Path], ...] = ()
        if plan.leaf_remotes:
            # one remote per account, the internal one included: core's traffic crosses too
            files = [(a, f"leaf-{name}.creds") for name, a in sorted(self.bundle.accounts.items())]
            files.append((self.bundle.internal_account, INTERNAL_LEAF_CREDS))
            leaf_creds = tuple(
                (account.public_key, self.store.user_creds(account, file, f"leaf-{plan.server_name}"))
                for account, file in files
            )
        auth = config.ServerAuth(
            operator_jwt=self.store.operator_jwt_path.resolve(),
            system_account=self.bundle.system_account.public_key,
            accounts={a.public_key: a.jwt for a in self.bundle.server_accounts()},
            cluster_secret=self.bundle.cluster_secret,
            leaf_creds=leaf_creds,
        )
        self.nats_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = config.render(
            plan,
            auth,
            store_dir=self.nats_dir.resolve(),
            resolver_dir=(self.nats_dir / "jwt").resolve(),
            sync_always=not self.settings.unsafe_async_fsync,
            ws_port=self.settings.ws_port,
        )
        # 0600: it holds the route secret.
        write_secret(self.config_path, text)

    def _explain(self, exc: NatsError) -> NatsError:
        """Turn nats-server's complaint into one line naming our setting, where we can tell which."""
        text = str(exc)
        for problem in ("address already in use", "cannot assign requested address", "permission denied"):
            if problem not in text:
                continue
            for dest, port in self._ports().items():
                if re.search(rf"[:\s]{port}\b", text):
                    return NatsConfigError(f"{self.settings.source(dest)} {port}: {problem}")
            return NatsConfigError(f"{self.settings.source('nats_host')} {self.settings.host}: {problem}")
        return exc

    def _ports(self) -> dict[str, int]:
        s = self.settings
        ports = {
            "nats_port": s.port,
            "nats_monitor_port": s.monitor_port,
            "nats_cluster_port": s.cluster_port,
            "nats_gateway_port": s.gateway_port,
            "nats_leaf_port": s.leaf_port,
            "nats_ws_port": s.ws_port,
        }
        return {dest: port for dest, port in ports.items() if port}

    async def _check_static_peers(self) -> None:
        """One warning line per static peer that does not answer yet (nats-server keeps retrying)."""
        own = {
            (self.settings.client_host, self.settings.cluster_port),
            (self.settings.host, self.settings.cluster_port),
        }
        checks = [
            (dest, url)
            for dest, urls in (("nats_routes", self.settings.routes), ("nats_hub", self.settings.hub))
            for url in urls
            if (urlsplit(url).hostname, urlsplit(url).port) not in own or dest == "nats_hub"
        ]
        problems = await asyncio.gather(*(reachable(url, 1.0) for _, url in checks))
        for (dest, url), problem in zip(checks, problems, strict=True):
            if problem:
                shown = url.split("@")[-1] if "@" in url else url
                log.warning(
                    "%s: peer %s is unreachable (%s); nats-server keeps retrying",
                    self.settings.source(dest),
                    shown,
                    problem,
                )

    async def _follow_dns(self) -> None:
        """Fly.io machines come and go: re-resolve peers, rewrite the config and SIGHUP on change.

        Pillow resolves once at boot; a mesh that never learns about replaced machines slowly
        loses its routes, so we poll.
        """
        while True:
            await asyncio.sleep(self.resolve_interval)
            try:
                await self.refresh_topology()
            except Exception:  # one bad round must not end the polling for good
                log.exception("NATS topology: re-resolving peers failed")

    async def refresh_topology(self) -> bool:
        """Re-plan from fresh DNS answers; True if nats-server was told to reload."""
        try:
            new, complete = await self._make_plan()
        except NatsError as exc:
            log.warning("NATS topology: %s", exc)
            return False
        if not complete:
            # A DNS hiccup must not read as "every peer is gone": dropping routes on reload
            # would cut this node off. Keep the current routes until DNS answers again.
            return False
        assert self.plan is not None and self.supervisor is not None
        if new.gateway != self._gateway_seen:
            self._gateway_seen = new.gateway
            if new.gateway != self.plan.gateway:
                log.warning("NATS topology: gateway peers changed; nats-server applies them only on restart")
        merged = self.plan.reloadable_change(new)
        if merged is None:
            return False
        log.info(
            "NATS topology: peers changed (routes %d, leaf remotes %d); reloading nats-server",
            len(merged.cluster.routes) if merged.cluster else 0,
            len(merged.leaf_remotes),
        )
        self._write_config(merged)
        self.supervisor.reload()
        self.plan = merged
        return True

"""Render a nats-server configuration file from a topology plan and the auth material. Pure.

Choices that are not in the plan, and why:
- operator mode with the `full` resolver: every node stores account JWTs and accepts runtime
  pushes on $SYS.REQ.CLAIMS.UPDATE; no unauthenticated client can connect in operator mode;
- `sync_interval: always` unless the user opts out: with the default (fsync every 2 min) Jepsen
  saw JetStream lose writes it had acknowledged;
- the monitor listener binds 127.0.0.1 whatever the client bind address is;
- routes and gateways authenticate with a shared secret from the auth bundle, leafnodes with
  user creds per account (operator mode allows no users in the config for them);
- `logtime: false`: core's logger stamps the lines it forwards;
- the websocket listener (`--nats-ws-port`, off by default) binds the client host and speaks
  plain ws (`no_tls`): TLS belongs to the proxy in front of it (Caddy, nginx, Fly.io's edge),
  as for core's HTTP port. Clients authenticate with their user JWT as on the client port.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from core.nats.topology import Plan

ROUTE_USER = "core-route"
GATEWAY_USER = "core-gateway"


@dataclass(frozen=True)
class ServerAuth:
    operator_jwt: Path
    system_account: str
    accounts: Mapping[str, str]  # account public key -> account JWT, preloaded into the resolver
    cluster_secret: str  # password of routes and gateways
    leaf_creds: tuple[tuple[str, Path], ...] = ()  # (account public key, creds file) per leaf remote


def _q(value: object) -> str:
    # nats-server's parser reads JSON-style double-quoted strings.
    return json.dumps(str(value))


def _hostport(host: str, port: int) -> str:
    return _q(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")


def _with_auth(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    if parts.username:  # the user wrote their own credentials into the URL
        return url
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc}"))


def _list(items: list[str], indent: str) -> str:
    inner = "".join(f"\n{indent}  {item}" for item in items)
    return f"[{inner}\n{indent}]"


def render(
    plan: Plan,
    auth: ServerAuth,
    *,
    store_dir: Path,
    resolver_dir: Path,
    sync_always: bool = True,
    ws_port: int = 0,
) -> str:
    lines = [
        "# Written by core on every start; edits are overwritten.",
        f"server_name: {_q(plan.server_name)}",
        f"listen: {_hostport(plan.client_host, plan.client_port)}",
        "logtime: false",
    ]
    if plan.monitor_port:
        lines.append(f"http: {_hostport('127.0.0.1', plan.monitor_port)}")
    if ws_port:
        lines += ["websocket: {", f"  listen: {_hostport(plan.client_host, ws_port)}", "  no_tls: true", "}"]
    preload = [f"{_q(pub)}: {_q(token)}" for pub, token in sorted(auth.accounts.items())]
    lines += [
        "",
        f"operator: {_q(auth.operator_jwt)}",
        f"system_account: {_q(auth.system_account)}",
        "resolver: {",
        "  type: full",
        f"  dir: {_q(resolver_dir)}",
        "  allow_delete: false",
        '  interval: "2m"',
        "}",
        f"resolver_preload: {{{''.join(chr(10) + '  ' + p for p in preload)}\n}}",
        "",
        "jetstream: {",
        f"  store_dir: {_q(store_dir)}",
        "  sync_interval: always"
        if sync_always
        else "  # sync_interval: nats-server's default (2m), --nats-unsafe-async-fsync",
    ]
    if plan.js_domain:
        lines.append(f"  domain: {_q(plan.js_domain)}")
    lines.append("}")
    if plan.cluster:
        routes = [_q(_with_auth(url, ROUTE_USER, auth.cluster_secret)) for url in plan.cluster.routes]
        lines += [
            "",
            "cluster: {",
            f"  name: {_q(plan.cluster.name)}",
            f"  listen: {_hostport(plan.cluster.host, plan.cluster.port)}",
            f"  authorization: {{ user: {_q(ROUTE_USER)}, password: {_q(auth.cluster_secret)} }}",
            f"  routes: {_list(routes, '  ')}",
            "}",
        ]
    if plan.gateway:
        remotes = []
        for name, urls in plan.gateway.remotes:
            quoted = ", ".join(_q(_with_auth(url, GATEWAY_USER, auth.cluster_secret)) for url in urls)
            remotes.append(f"{{ name: {_q(name)}, urls: [{quoted}] }}")
        lines += [
            "",
            "gateway: {",
            f"  name: {_q(plan.gateway.name)}",
            f"  listen: {_hostport(plan.gateway.host, plan.gateway.port)}",
            f"  authorization: {{ user: {_q(GATEWAY_USER)}, password: {_q(auth.cluster_secret)} }}",
            f"  gateways: {_list(remotes, '  ')}",
            "}",
        ]
    leaf_remotes = []
    if plan.leaf_remotes:
        hub_urls = ", ".join(_q(url) for url in plan.leaf_remotes)
        # One remote per account: a leaf connection binds exactly one local account to one hub
        # account. The system account's remote carries account pushes to the spoke.
        for account, creds_file in auth.leaf_creds:
            leaf_remotes.append(
                f"{{ urls: [{hub_urls}], account: {_q(account)}, credentials: {_q(creds_file)} }}"
            )
    if plan.leaf_listen or leaf_remotes:
        lines += ["", "leafnodes: {"]
        if plan.leaf_listen:
            lines.append(f"  listen: {_hostport(*plan.leaf_listen)}")
        if leaf_remotes:
            lines.append(f"  remotes: {_list(leaf_remotes, '  ')}")
        lines.append("}")
    return "\n".join(lines) + "\n"


def is_spoke(text: str) -> bool:
    """Whether a config `render` wrote is a spoke's (it dials a hub with leafnode remotes): for
    tools that run beside a node and must address its hub's JetStream domain."""
    return "\nleafnodes: {" in text and "\n  remotes: " in text

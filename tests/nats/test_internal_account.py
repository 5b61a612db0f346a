"""Core's own NATS traffic lives in its internal account, CORE: no issued credential reaches it.

The attacks are those of issue 12: a user from `core nats creds` reading every committed row off
the realtime bus, forging events that SSE clients take as real, steering another process's
clients. Real nats-server (and a real `core serve`) throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from core.nats import cli, config, creds, jwt, nkey, settings, topology
from core.nats.auth import INTERNAL_ACCOUNT, SERVICE_CREDS, AuthStore, create_bundle
from core.nats.client import connect, subscriptions_settled
from core.nats.errors import CredentialsRefused
from core.nats.process import Supervisor, find_binary
from core.nats.service import NatsService
from core.realtime.events import RecordEvent, encode
from tests.nats.conftest import StartNode, free_port, run_cli, serve_args
from tests.realtime.test_sse_server import Stream
from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess, start_core

# one subject of each kind core uses (core/realtime/bus.py, core/workers.py)
INTERNAL = (
    "core.realtime.events",
    "core.realtime.interest",
    "core.realtime.client.0123456789",
    "core.workers.g1.pause",
    "core.workers.g1.resume",
)
# after the last message a listener waits this long for anything more; only a leak arrives then
QUIET = 1.0


class Listener:
    """A nats-py connection that keeps every message it gets and every error the server sends."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.messages: list[Msg] = []
        self.errors: list[str] = []
        self._arrived = asyncio.Event()

    @classmethod
    async def connect(cls, url: str, creds_file: Path) -> Listener:
        listener: Listener

        async def on_error(exc: Exception) -> None:
            listener.errors.append(str(exc).lower().removeprefix("nats: "))

        nc = await nats.connect(
            url, user_credentials=str(creds_file), error_cb=on_error, allow_reconnect=False
        )
        listener = cls(nc)
        return listener

    async def subscribe(self, subject: str) -> None:
        async def on_message(msg: Msg) -> None:
            self.messages.append(msg)
            self._arrived.set()

        await self.nc.subscribe(subject, cb=on_message)

    async def wait_for(self, subject: str, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not any(m.subject == subject for m in self.messages):
                self._arrived.clear()
                await self._arrived.wait()

    def subjects(self) -> list[str]:
        """What arrived, but for the inbox messages that settle subscriptions (see below)."""
        return [m.subject for m in self.messages if not m.subject.startswith("_INBOX.")]

    async def close(self) -> None:
        await self.nc.close()


def issue(data_dir: Path, name: str, *argv: str) -> Path:
    out = data_dir / f"{name}.creds"
    assert cli.main(["creds", name, "--dir", str(data_dir), "-o", str(out), *argv]) == 0
    return out


def issued_by_an_older_core(data_dir: Path) -> Path:
    """An app user with no permissions at all, as `core nats creds` made them before this fix:
    what keeps it out is the account boundary, not a deny list."""
    app = AuthStore(data_dir / "nats-auth").load().accounts["app"]
    out = data_dir / "legacy.creds"
    creds.write_secret(out, creds.issue(app.seed, "legacy").text())
    return out


@pytest.fixture
async def node_and_users(
    start_node: StartNode, tmp_path: Path
) -> AsyncIterator[tuple[NatsService, dict[str, Path]]]:
    node = await start_node(tmp_path)
    added = await asyncio.to_thread(
        run_cli, "account", "add", "tenant", "--dir", str(tmp_path), "--nats-port", str(node.settings.port)
    )
    assert added.returncode == 0, added.stderr
    users = {
        "default": issue(tmp_path, "default"),
        "app": issue(tmp_path, "app", "--account", "app"),
        "tenant": issue(tmp_path, "tenant", "--account", "tenant"),
        "legacy": issued_by_an_older_core(tmp_path),
    }
    yield node, users


async def test_issued_users_are_refused_internal_subjects(
    node_and_users: tuple[NatsService, dict[str, Path]],
) -> None:
    node, users = node_and_users
    for kind in ("default", "app", "tenant"):
        user = await Listener.connect(node.client_url, users[kind])
        try:
            for subject in INTERNAL:
                await user.subscribe(subject)
                await user.nc.publish(subject, b"forged")
            await user.subscribe("core.>")
            # the server answers in order: every refusal arrives before this message does
            await user.subscribe("mine")
            await user.nc.publish("mine", b"ok")
            await user.wait_for("mine")
            for subject in INTERNAL:
                assert f'permissions violation for subscription to "{subject}"' in user.errors, kind
                assert f'permissions violation for publish to "{subject}"' in user.errors, kind
            assert 'permissions violation for subscription to "core.>"' in user.errors, kind
        finally:
            await user.close()


async def test_core_traffic_never_reaches_an_issued_user(
    node_and_users: tuple[NatsService, dict[str, Path]],
) -> None:
    node, users = node_and_users
    listeners = [await Listener.connect(node.client_url, path) for path in users.values()]
    try:
        for listener in listeners:
            await listener.subscribe(">")
            await listener.subscribe("core.realtime.events")  # refused, or alone in its account
        await asyncio.gather(*(subscriptions_settled(listener.nc) for listener in listeners))
        # core's service connection (node.nc) is what the realtime bus and the workers use
        for subject in INTERNAL:
            await node.nc.publish(subject, b"a committed row")
        # the server handled core's messages before this returns: anything for these
        # subscribers is already on its way, ahead of the control message that follows
        await subscriptions_settled(node.nc)
        for listener in listeners:
            await listener.nc.publish("control", b"")
            await listener.wait_for("control")
            assert set(listener.subjects()) == {"control"}
            assert not [m for m in listener.messages if m.data == b"a committed row"]
    finally:
        for listener in listeners:
            await listener.close()


async def test_nothing_an_issued_user_publishes_reaches_core(
    node_and_users: tuple[NatsService, dict[str, Path]],
) -> None:
    node, users = node_and_users
    received: list[str] = []
    done = asyncio.Event()

    async def on_message(msg: Msg) -> None:
        if not msg.subject.startswith("_INBOX.") or msg.data == b"forged":
            received.append(msg.subject)
        if msg.subject == "core.control":
            done.set()

    sub = await node.nc.subscribe(">", cb=on_message)
    try:
        await subscriptions_settled(node.nc)
        for path in users.values():
            user = await Listener.connect(node.client_url, path)
            try:
                for subject in INTERNAL:
                    await user.nc.publish(subject, b"forged", reply="core.realtime.client.x")
                await subscriptions_settled(user.nc)  # the server has handled them all
            finally:
                await user.close()
        await node.nc.publish("core.control", b"")
        await asyncio.wait_for(done.wait(), 5)
        assert received == ["core.control"]
    finally:
        await sub.unsubscribe()


async def test_no_creds_for_the_internal_account(tmp_path: Path) -> None:
    assert cli.main(["auth", "init", "--dir", str(tmp_path)]) == 0
    issued = await asyncio.to_thread(
        run_cli, "creds", "x", "--account", INTERNAL_ACCOUNT, "--dir", str(tmp_path)
    )
    assert issued.returncode == 2 and issued.stdout == ""
    assert issued.stderr == (
        f"core: error: --account: {INTERNAL_ACCOUNT} is core's internal account; no credentials are issued for it\n"
    )
    for flag in ("--pub", "--sub"):
        narrow = await asyncio.to_thread(
            run_cli, "creds", "x", flag, "core.realtime.>", "--dir", str(tmp_path)
        )
        assert narrow.returncode == 2 and narrow.stdout == ""
        assert narrow.stderr == f"core: error: {flag}: core.realtime.> is reserved for core's own traffic\n"
    added = await asyncio.to_thread(run_cli, "account", "add", INTERNAL_ACCOUNT, "--dir", str(tmp_path))
    assert added.returncode == 2
    assert added.stderr == f"core: error: NAME: {INTERNAL_ACCOUNT!r} is not a valid account name\n"


async def test_an_old_bundle_upgraded_on_two_nodes_alone_agrees_on_the_internal_account(
    start_node: StartNode, tmp_path: Path
) -> None:
    # The bundle format did not change: an old core's export holds SYS and app only, and its
    # nodes minted core.creds in app. Each node here upgrades on its own, from its own copy.
    old = create_bundle()
    assert set(old.accounts) == {"SYS", "app"}
    dirs = [tmp_path / "n1", tmp_path / "n2"]
    for d in dirs:
        store = AuthStore(d / "nats-auth")
        store.save(old)
        store.user_creds(old.accounts["app"], SERVICE_CREDS, "core")
    ports = [free_port() for _ in dirs]
    routes = ",".join(f"127.0.0.1:{p}" for p in ports)
    nodes = await asyncio.gather(
        *(
            start_node(d, name=d.name, nats_cluster_port=port, nats_routes=routes)
            for d, port in zip(dirs, ports, strict=True)
        )
    )
    issuers = {
        jwt.decode(creds.parse((d / "nats-auth" / SERVICE_CREDS).read_text()).jwt)["iss"] for d in dirs
    }
    assert issuers == {old.internal_account.public_key}
    # core's traffic crosses between the nodes, inside CORE
    n1, n2 = nodes
    inbox = await n2.nc.subscribe("core.realtime.events")
    try:
        async with asyncio.timeout(10):
            while True:  # interest takes a moment to spread over the route
                await n1.nc.publish("core.realtime.events", b"row")
                with contextlib.suppress(nats.errors.TimeoutError):
                    assert (await inbox.next_msg(timeout=0.2)).data == b"row"
                    break
    finally:
        await inbox.unsubscribe()


async def test_an_external_server_older_than_the_internal_account_is_taught_it(
    start_node: StartNode, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the nats-server of an older core (or one set up by hand from `core nats auth export`):
    # it trusts the operator and holds SYS and app, but has never heard of CORE
    caplog.set_level(logging.INFO, logger="core.nats")
    bundle = create_bundle()
    old_dir = tmp_path / "old"
    args = serve_args(old_dir)
    plan = topology.plan_static(settings.from_args(args, {}))
    AuthStore(old_dir / "nats-auth").save(bundle)
    auth = config.ServerAuth(
        operator_jwt=AuthStore(old_dir / "nats-auth").operator_jwt_path,
        system_account=bundle.system_account.public_key,
        accounts={a.public_key: a.jwt for a in bundle.accounts.values()},
        cluster_secret=bundle.cluster_secret,
    )
    conf = old_dir / "old.conf"
    conf.write_text(config.render(plan, auth, store_dir=old_dir / "js", resolver_dir=old_dir / "jwt"))
    server = Supervisor(find_binary({}), conf)
    await server.start()
    try:
        url = f"nats://127.0.0.1:{args.nats_port}"
        client = await start_node(
            tmp_path / "client", "--nats-url", url, env={"CORE_NATS_AUTH": bundle.export_text()}
        )
        assert "pushed core's internal account to 1 server(s)" in caplog.text
        service = (tmp_path / "client" / "nats-auth" / SERVICE_CREDS).read_text()
        assert jwt.decode(creds.parse(service).jwt)["iss"] == bundle.internal_account.public_key
        await client.js.add_stream(name="changelog", subjects=["changelog"])  # JetStream is on in CORE
        await client.stop()
    finally:
        await server.stop()


async def test_refused_credentials_fail_the_first_connect_at_once(
    start_node: StartNode, tmp_path: Path
) -> None:
    node = await start_node(tmp_path)
    stranger = tmp_path / "stranger.creds"
    creds.write_secret(stranger, creds.issue(nkey.new_seed("account"), "eve").text())
    # the mechanism, not a time: the answer ends the attempt, instead of retries until the timeout
    with pytest.raises(CredentialsRefused, match="refused core's credentials \\(Authorization Violation\\)$"):
        await connect(node.client_url, stranger, name="eve", source="--nats-creds", timeout=60)


# -- a real `core serve`: forged events and the realtime bus ------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, int]]:
    nats_port = free_port()
    extra = ["--nats-port", str(nats_port), "--nats-leaf-port", str(free_port()), "--nats-monitor-port", "0"]
    with start_core(tmp_path_factory.mktemp("isolation") / "data", extra_args=extra) as srv:
        yield srv, nats_port


async def test_forged_events_never_reach_sse_clients_and_rows_never_leak(
    server: tuple[ServerProcess, int],
) -> None:
    srv, nats_port = server
    url = f"nats://127.0.0.1:{nats_port}"
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as http:
        auth = await http.post(
            "/api/collections/_superusers/auth-with-password",
            json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
        )
        collection = {"name": "notes", "type": "base", "listRule": "", "viewRule": "", "createRule": ""}
        collection["fields"] = [{"name": "text", "type": "text"}]  # type: ignore[assignment]
        made = await http.post(
            "/api/collections", json=collection, headers={"Authorization": auth.json()["token"]}
        )
        assert made.status_code == 200, made.text
        collection_id = made.json()["id"]
        attackers = [
            await Listener.connect(url, issue(srv.data_dir, "default")),
            await Listener.connect(url, issued_by_an_older_core(srv.data_dir)),
        ]
        async with http.stream("GET", "/api/realtime") as response:
            stream = Stream(response)
            client_id = (await stream.next(5)).id
            subscribed = await http.post(
                "/api/realtime", json={"clientId": client_id, "subscriptions": ["notes/*"]}
            )
            assert subscribed.status_code == 204
            origin = secrets.token_bytes(8)
            forged = RecordEvent("create", collection_id, {"id": "forged000000001", "text": "forged"})
            for attacker in attackers:
                await attacker.subscribe(">")
                # "someone has SSE clients": would make core publish every event to NATS
                await attacker.nc.publish("core.realtime.interest", origin)
                await attacker.nc.publish("core.realtime.events", origin + encode([forged])[0])
                await subscriptions_settled(attacker.nc)
            created = (await http.post("/api/collections/notes/records", json={"text": "real"})).json()
            frame = await stream.next(5)
            assert frame.json["record"]["id"] == created["id"]
            with pytest.raises(TimeoutError):
                extra = await stream.next(QUIET)
                raise AssertionError(f"an unexpected frame reached the SSE client: {extra}")
        await asyncio.sleep(QUIET)  # core's copy of the event, had it gone to the attackers
        for attacker in attackers:
            # record events (pb.events.>, issue 16) are application traffic an unrestricted app user
            # may read by design; core's own bus must stay out of reach
            own = [m for m in attacker.messages if not m.subject.startswith("pb.events.")]
            leaked = [m.subject for m in own if m.data.find(created["id"].encode()) >= 0]
            assert leaked == []
            # record events and request logs (pb.events.>, pb.logs.>, issue 16), and the JetStream
            # API traffic of core's user of the app account that serves them, are application
            # traffic an unrestricted app user may read by design; core's own bus stays out of reach
            app_traffic = ("pb.logs.", "pb.events.", "$JS.")
            seen = {s for s in attacker.subjects() if not s.startswith(app_traffic)}
            assert seen <= {"core.realtime.interest", "core.realtime.events"}
            await attacker.close()

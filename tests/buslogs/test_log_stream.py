"""Log streaming with a real `core serve`: request logs and core's own log lines reach PB_LOGS
(pb.logs.<node>.<level>) in the /api/logs item shape, and `core logs tail` reads them back."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest

from core.cli_logs import node_url
from core.logs import stream as log_stream
from core.nats import app_users, creds, jwt
from core.nats.auth import AuthStore
from core.nats.creds import write_secret
from core.nats.service import app_creds_file
from tests.buslogs.conftest import core_command, followed, run_tail, tail
from tests.servers import ServerProcess, free_port, start_core

ITEM_KEYS = ["node", "id", "created", "data", "message", "level"]


def _nats_args(*extra: str) -> list[str]:
    return [
        "--nats-port", str(free_port()),
        "--nats-leaf-port", str(free_port()),
        "--nats-monitor-port", "0",
        "--name", "solo",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with start_core(
        tmp_path_factory.mktemp("logs") / "data",
        extra_args=_nats_args("--logs-stream-max-age", "2d", "--logs-stream-max-bytes", "64MiB"),
    ) as srv:
        yield srv


def _marker() -> str:
    return f"/api/collections/nope_{uuid.uuid4().hex[:8]}/records"


def _wait_tail(data_dir: Path, predicate, *args: str, timeout: float = 30.0) -> list[dict]:
    """Tail until an item matches: the publisher batches, so a log arrives a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        items = tail(data_dir, *args)
        if any(predicate(i) for i in items) or time.monotonic() > deadline:
            return items
        time.sleep(0.2)


def test_request_logs_reach_the_stream_in_the_api_logs_shape(server: ServerProcess) -> None:
    url = _marker()
    httpx.get(server.url + url)
    items = _wait_tail(server.data_dir, lambda i: i["data"].get("url") == url)
    mine = [i for i in items if i["data"].get("url") == url]
    assert len(mine) == 1, items
    item = mine[0]
    assert list(item) == ITEM_KEYS
    assert item["node"] == "solo"
    assert item["level"] == 8 and item["message"] == f"GET {url}"
    assert item["data"]["status"] == 404 and item["data"]["type"] == "request"
    # the same item /api/logs serves (once the database flusher wrote it)
    with httpx.Client(base_url=server.url) as http:
        token = http.post(
            "/api/collections/_superusers/auth-with-password",
            json={"identity": "admin@example.com", "password": "password123456"},
        ).json()["token"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stored = http.get(
                "/api/logs", params={"filter": f'data.url = "{url}"'}, headers={"Authorization": token}
            )
            if stored.json()["items"]:
                break
            time.sleep(0.2)
    api_item = stored.json()["items"][0]
    assert list(api_item) == ITEM_KEYS[1:]
    assert {k: v for k, v in item.items() if k != "node"} == api_item


def test_level_and_filter_options(server: ServerProcess) -> None:
    bad, good = _marker(), "/api/health"
    httpx.get(server.url + bad)
    httpx.get(server.url + good)
    _wait_tail(server.data_dir, lambda i: i["data"].get("url") == bad)
    errors = tail(server.data_dir, "--level", "error", "-n", "1000")
    assert any(i["data"].get("url") == bad for i in errors)
    assert all(i["level"] >= 8 for i in errors)
    filtered = tail(server.data_dir, "--filter", f'data.url = "{bad}"')
    assert [i["data"]["url"] for i in filtered] == [bad]
    assert tail(server.data_dir, "--node", "elsewhere") == []
    assert len(tail(server.data_dir, "-n", "2")) == 2


def test_bad_filter_is_a_clear_error(server: ServerProcess) -> None:
    proc = run_tail(server.data_dir, "--filter", "nope = 1")
    assert proc.returncode == 2
    assert "not a logs filter" in proc.stderr and "Traceback" not in proc.stderr


def test_follow_shows_requests_made_before_and_after(server: ServerProcess) -> None:
    before, after = _marker(), _marker()
    httpx.get(server.url + before)
    with followed(server.data_dir, "--level", "warn") as follower:
        follower.wait_for(lambda i: i["data"].get("url") == before)
        httpx.get(server.url + after)
        item = follower.wait_for(lambda i: i["data"].get("url") == after)
        assert item["node"] == "solo"


def test_core_log_lines_are_published_too(server: ServerProcess, tmp_path: Path) -> None:
    """nats-server's own complaints become core log lines (core.nats.server): a client publishing
    where it may not is one, and it must reach the stream at level error."""
    bundle = AuthStore(server.data_dir / "nats-auth").load()
    issued = app_users.issue(
        bundle.account("app").seed,
        app_users.Permissions(publish=("app.mine",)),
        record_id="r1",
        collection_name="users",
        expires_in=60,
    )
    creds_file = tmp_path / "user.creds"
    write_secret(creds_file, issued.text())
    subject = f"app.forbidden{uuid.uuid4().hex[:6]}"

    async def violate() -> None:
        nc = await nats.connect(node_url(server.data_dir), user_credentials=str(creds_file))
        with contextlib.suppress(Exception):
            await nc.publish(subject, b"x")
            await nc.flush()
            await asyncio.sleep(0.3)
        with contextlib.suppress(Exception):
            await nc.close()

    asyncio.run(violate())
    items = _wait_tail(server.data_dir, lambda i: subject in i["message"], "--filter", 'data.type = "app"')
    mine = [i for i in items if subject in i["message"]]
    assert mine, items
    assert mine[0]["level"] == 8 and mine[0]["data"]["logger"] == "core.nats.server"


def test_stream_limits_follow_the_flags(server: ServerProcess) -> None:
    async def info() -> tuple[float, int, int]:
        store = AuthStore(server.data_dir / "nats-auth")
        creds_file = app_creds_file(store, store.load())
        nc = await nats.connect(node_url(server.data_dir), user_credentials=str(creds_file))
        try:
            cfg = (await nc.jetstream().stream_info(log_stream.STREAM)).config
            return cfg.max_age or 0, cfg.max_bytes or 0, cfg.num_replicas or 0
        finally:
            await nc.close()

    assert asyncio.run(info()) == (2 * 86400, 64 << 20, 1)


def test_publishing_disabled_by_zero_bytes(tmp_path: Path) -> None:
    with start_core(tmp_path / "data", extra_args=_nats_args("--logs-stream-max-bytes", "0")) as srv:
        httpx.get(srv.url + "/api/health")
        proc = run_tail(srv.data_dir)
    assert proc.returncode == 2 and "no PB_LOGS stream" in proc.stderr


def test_creds_with_logs_read_the_stream_and_others_do_not(server: ServerProcess, tmp_path: Path) -> None:
    url = _marker()
    httpx.get(server.url + url)
    _wait_tail(server.data_dir, lambda i: i["data"].get("url") == url)
    reader, other = tmp_path / "reader.creds", tmp_path / "other.creds"
    for name, path, flags in (("reader", reader, ["--logs"]), ("other", other, ["--sub", "app.x"])):
        proc = subprocess.run(
            core_command("nats", "creds", name, "--dir", str(server.data_dir), "-o", str(path), *flags),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
    claims = jwt.decode(creds.parse(reader.read_text()).jwt, kind="user")["nats"]
    assert not any(s.startswith("pb.") for s in claims["pub"]["allow"])  # reading only
    items = tail(server.data_dir, "--creds", str(reader), "--filter", f'data.url = "{url}"')
    assert [i["data"]["url"] for i in items] == [url]
    refused = run_tail(server.data_dir, "--creds", str(other))
    assert refused.returncode == 2, refused.stderr
    assert "cannot read PB_LOGS" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.slow
def test_workers_publish_under_the_leaders_name_and_limits(tmp_path: Path) -> None:
    from tests.integration.test_workers import connect_to_each

    args = _nats_args("--workers", "2", "--logs-stream-max-age", "3d")
    with start_core(tmp_path / "data", extra_args=args) as srv:
        by_pid = connect_to_each(srv)
        urls = {}
        for pid, worker in by_pid.items():
            urls[pid] = _marker()
            status, _ = worker.call("GET", urls[pid])
            assert status == 404
            worker.conn.close()
        follower_url = next(u for pid, u in urls.items() if pid != srv.pid)
        items = _wait_tail(srv.data_dir, lambda i: i["data"].get("url") == follower_url, "-n", "100")
        shown = {i["data"].get("url"): i["node"] for i in items}
        assert {shown.get(u) for u in urls.values()} == {"solo"}, shown

        async def max_age() -> float:
            store = AuthStore(srv.data_dir / "nats-auth")
            nc = await nats.connect(
                node_url(srv.data_dir), user_credentials=str(app_creds_file(store, store.load()))
            )
            try:
                return (await nc.jetstream().stream_info(log_stream.STREAM)).config.max_age or 0
            finally:
                await nc.close()

        assert asyncio.run(max_age()) == 3 * 86400


def test_tail_without_a_node_says_why(tmp_path: Path) -> None:
    proc = run_tail(tmp_path)
    assert proc.returncode == 2 and "no NATS auth" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_follower_issues_nats_tokens_with_the_leaders_lifetime(tmp_path: Path) -> None:
    from tests.integration.test_workers import connect_to_each

    args = _nats_args("--workers", "2", "--nats-token-ttl", "90s")
    with start_core(tmp_path / "data", extra_args=args) as srv:
        by_pid = connect_to_each(srv)
        leader = by_pid.pop(srv.pid)
        (follower,) = by_pid.values()
        status, body = leader.call(
            "POST",
            "/api/collections/_superusers/auth-with-password",
            {"identity": "admin@example.com", "password": "password123456"},
        )
        assert status == 200, body
        follower.token = body["token"]
        status, body = follower.call(
            "PUT", "/api/nats/permissions/_superusers", {"subscribe": ["app.admin.>"]}
        )
        assert status == 200, body
        before = int(time.time())
        status, body = follower.call("POST", "/api/nats/token", {})
        assert status == 200, body
        assert body["expires"] <= int(time.time()) + 90 and body["expires"] >= before + 90
        for worker in (leader, follower):
            worker.conn.close()

"""`core serve --ha` on three nodes (real processes, each with its embedded nats-server, routed
into one JetStream cluster on loopback): every node reads and writes, they end with the same
data, a unique value has one winner across nodes, and kill -9 of a node loses no acknowledged
write."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.realtime.sse import Frame, FrameParser
from tests.servers import (
    REPO_ROOT,
    HaNode,
    free_port,
    ha_cluster,
    start_all,
    start_core,
    superuser_token,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HaNode]]:
    nodes = ha_cluster(tmp_path_factory.mktemp("ha"), 3, "--ha-timeout", "2", "--ha-create-delay", "1")
    start_all(nodes)
    yield nodes
    for node in nodes:
        if node.server is not None:
            node.server.stop()


async def _eventually(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        await asyncio.sleep(0.2)


async def _ids(client: httpx.AsyncClient, token: str) -> set[str]:
    resp = await client.get(
        "/api/collections/events/records",
        params={"perPage": 1000, "fields": "id", "skipTotal": 1},
        headers={"Authorization": token},
    )
    if resp.status_code != 200:
        return set()
    return {item["id"] for item in resp.json()["items"]}


async def _writer(
    client: httpx.AsyncClient, token: str, tag: str, acked: list[str], stop: asyncio.Event
) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        try:
            resp = await client.post(
                "/api/collections/events/records",
                headers={"Authorization": token},
                json={"tag": f"{tag}-{i}"},
            )
        except httpx.HTTPError:
            await asyncio.sleep(0.05)  # that node is down: that write was never acknowledged
            continue
        if resp.status_code == 200:
            acked.append(resp.json()["id"])
        else:
            await asyncio.sleep(0.05)


async def test_a_write_on_one_node_is_read_token_and_event_on_another(cluster: list[HaNode]) -> None:
    a, b = (httpx.AsyncClient(base_url=n.url, timeout=15) for n in cluster[:2])
    try:
        token = await superuser_token(a)  # a token from node a works on node b: the secrets replicate
        made = await a.post(
            "/api/collections",
            headers={"Authorization": token},
            json={
                "name": "notes",
                "listRule": "",
                "viewRule": "",
                "createRule": "",
                "fields": [{"name": "text", "type": "text"}],
            },
        )
        assert made.status_code == 200, made.text
        seq = made.headers["x-core-seq"]
        # b answers with everything up to a's write once asked to (read-your-writes)
        seen = await b.get("/api/collections/notes", headers={"Authorization": token, "X-Core-Min-Seq": seq})
        assert seen.status_code == 200, seen.text
        assert int(seen.headers["x-core-seq"]) >= int(seq)
        bad = await b.get("/api/health", headers={"X-Core-Min-Seq": "soon"})
        assert bad.status_code == 400 and bad.json()["message"] == "X-Core-Min-Seq must be a whole number."

        async with b.stream("GET", "/api/realtime") as stream:
            parser = FrameParser()
            frames = stream.aiter_raw()

            async def next_frame() -> Frame:
                while True:
                    got = parser.feed(await asyncio.wait_for(anext(frames), 15))
                    if got:
                        return got[0]

            connect = await next_frame()
            assert connect.event == "PB_CONNECT"
            subscribed = await b.post(
                "/api/realtime",
                headers={"Authorization": token},
                json={"clientId": connect.json["clientId"], "subscriptions": ["notes"]},
            )
            assert subscribed.status_code == 204, subscribed.text
            note = await a.post("/api/collections/notes/records", json={"text": "written on a"})
            assert note.status_code == 200, note.text
            event = await next_frame()
            assert event.event == "notes"
            assert event.json["action"] == "create" and event.json["record"]["id"] == note.json()["id"]
            gone = await a.delete(
                f"/api/collections/notes/records/{note.json()['id']}", headers={"Authorization": token}
            )
            assert gone.status_code == 204
            event = await next_frame()
            assert event.json["action"] == "delete" and event.json["record"]["text"] == "written on a"
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_file_uploaded_on_one_node_is_served_by_another(cluster: list[HaNode]) -> None:
    a, b = (httpx.AsyncClient(base_url=n.url, timeout=15) for n in cluster[:2])
    try:
        token = await superuser_token(a)
        auth = {"Authorization": token}
        made = await a.post(
            "/api/collections",
            headers=auth,
            json={
                "name": "docs",
                "fields": [{"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 5000000}],
            },
        )
        assert made.status_code == 200, made.text
        payload = bytes(range(256)) * 4096  # 1 MiB
        up = await a.post(
            "/api/collections/docs/records", headers=auth, files={"doc": ("report.bin", payload)}
        )
        assert up.status_code == 200, up.text
        record, name = up.json()["id"], up.json()["doc"]
        url = f"/api/files/docs/{record}/{name}"
        seq = up.headers["x-core-seq"]
        got = await b.get(url, headers={"X-Core-Min-Seq": seq})
        assert got.status_code == 200 and got.content == payload
        local = cluster[1].data_dir / "pocketbase" / "storage" / made.json()["id"] / record / name
        assert local.read_bytes() == payload  # b keeps its copy
        gone = await b.delete(f"/api/collections/docs/records/{record}", headers=auth)
        assert gone.status_code == 204
        a_copy = cluster[0].data_dir / "pocketbase" / "storage" / made.json()["id"] / record / name

        async def removed_everywhere() -> bool:
            answer = await a.get(url, headers={"X-Core-Min-Seq": gone.headers["x-core-seq"]})
            return answer.status_code == 404 and not a_copy.exists() and not local.exists()

        await _eventually(removed_everywhere, "the file leaves every node")
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_password_change_on_one_node_revokes_tokens_on_another(cluster: list[HaNode]) -> None:
    a, b = (httpx.AsyncClient(base_url=n.url, timeout=15) for n in cluster[:2])
    try:
        su = {"Authorization": await superuser_token(a)}
        made = await a.post("/api/collections", headers=su, json={"name": "people", "type": "auth"})
        assert made.status_code == 200, made.text
        person = await a.post(
            "/api/collections/people/records",
            headers=su,
            json={
                "email": "p@example.com",
                "password": "first-password",
                "passwordConfirm": "first-password",
            },
        )
        assert person.status_code == 200, person.text
        login = await a.post(
            "/api/collections/people/auth-with-password",
            json={"identity": "p@example.com", "password": "first-password"},
        )
        assert login.status_code == 200, login.text
        old = {"Authorization": login.json()["token"], "X-Core-Min-Seq": login.headers["x-core-seq"]}
        assert (await b.post("/api/collections/people/auth-refresh", headers=old)).status_code == 200
        changed = await a.patch(
            f"/api/collections/people/records/{person.json()['id']}",
            headers=su,
            json={"password": "second-password", "passwordConfirm": "second-password"},
        )
        assert changed.status_code == 200, changed.text
        # once b has applied the change, the token a issued before it is void on b too
        old["X-Core-Min-Seq"] = changed.headers["x-core-seq"]
        refused = await b.post("/api/collections/people/auth-refresh", headers=old)
        assert refused.status_code == 401, refused.text
        again = await b.post(
            "/api/collections/people/auth-with-password",
            json={"identity": "p@example.com", "password": "second-password"},
        )
        assert again.status_code == 200, again.text
    finally:
        await a.aclose()
        await b.aclose()


async def test_three_nodes_write_converge_and_survive_kill9(cluster: list[HaNode]) -> None:
    clients = [httpx.AsyncClient(base_url=n.url, timeout=15) for n in cluster]
    try:
        tokens = [await superuser_token(c) for c in clients]  # each node knows the superuser
        made = await clients[0].post(
            "/api/collections",
            headers={"Authorization": tokens[0]},
            json={
                "name": "events",
                "fields": [{"name": "tag", "type": "text"}],
                "indexes": ["CREATE UNIQUE INDEX idx_events_tag ON events (tag)"],
            },
        )
        assert made.status_code == 200, made.text
        for client, token in zip(clients, tokens, strict=True):

            async def known(client: httpx.AsyncClient = client, token: str = token) -> bool:
                resp = await client.get("/api/collections/events", headers={"Authorization": token})
                return resp.status_code == 200

            await _eventually(known, "every node knows the new collection")

        # a unique value claimed on every node at once: one winner
        claims = await asyncio.gather(
            *(
                c.post(
                    "/api/collections/events/records", headers={"Authorization": t}, json={"tag": "claimed"}
                )
                for c, t in zip(clients, tokens, strict=True)
            )
        )
        assert sorted(r.status_code for r in claims) == [200, 400, 400], [r.text for r in claims]

        acked: list[str] = []
        stop = asyncio.Event()
        writers = [
            asyncio.create_task(_writer(c, t, f"{n.name}w{k}", acked, stop))
            for c, t, n in zip(clients, tokens, cluster, strict=True)
            for k in range(3)
        ]
        await _eventually(lambda: asyncio.sleep(0, len(acked) >= 150), "150 acknowledged writes")
        victim = cluster[2]
        assert victim.server is not None
        victim.server.kill9()  # core and (with it) its nats-server, mid-stream
        before = len(acked)
        await _eventually(
            lambda: asyncio.sleep(0, len(acked) >= before + 150), "the other nodes go on writing"
        )
        victim.start()  # the same data dir: it replays what it missed
        await _eventually(lambda: asyncio.sleep(0, len(acked) >= before + 250), "writes after the restart")
        stop.set()
        await asyncio.gather(*writers)

        expected = set(acked) | {claims[[r.status_code for r in claims].index(200)].json()["id"]}
        for client, token, node in zip(clients, tokens, cluster, strict=True):

            async def complete(client: httpx.AsyncClient = client, token: str = token) -> bool:
                return expected <= await _ids(client, token)

            await _eventually(complete, f"every acknowledged write on {node.name}", timeout=60)
        counts = {len(await _ids(c, t)) for c, t in zip(clients, tokens, strict=True)}
        assert len(counts) == 1, counts  # and nothing else: the same rows everywhere
    finally:
        for client in clients:
            await client.aclose()


def _nats_server_of(core_pid: int) -> int:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if name == "nats-server" and int(rest[1]) == core_pid:
            return int(entry)
    raise AssertionError(f"no nats-server child of {core_pid}")


async def test_a_node_cut_off_from_nats_refuses_writes_serves_reads_and_catches_up(
    cluster: list[HaNode],
) -> None:
    clients = [httpx.AsyncClient(base_url=n.url, timeout=15) for n in cluster]
    try:
        token = await superuser_token(clients[0])
        auth = {"Authorization": token}
        cut = cluster[1]
        assert cut.server is not None
        nats_pid = _nats_server_of(cut.server.pid)
        os.kill(nats_pid, signal.SIGSTOP)
        try:
            started = asyncio.get_running_loop().time()
            refused = await clients[1].post(
                "/api/collections/events/records", headers=auth, json={"tag": "cut"}
            )
            assert refused.status_code == 503, refused.text
            assert refused.json()["message"].startswith("The cluster's changelog is unavailable")
            assert asyncio.get_running_loop().time() - started < 10  # bounded by --ha-timeout
            assert (await clients[1].get("/api/collections/events/records", headers=auth)).status_code == 200

            async def written_elsewhere() -> httpx.Response | None:
                # if the stream's leader was on the frozen server, the others elect a new one first
                resp = await clients[0].post(
                    "/api/collections/events/records", headers=auth, json={"tag": "away"}
                )
                return resp if resp.status_code == 200 else None

            meanwhile = await _eventually(written_elsewhere, "the other nodes go on writing")
        finally:
            os.kill(nats_pid, signal.SIGCONT)

        async def caught_up() -> bool:
            return meanwhile.json()["id"] in await _ids(clients[1], token)

        await _eventually(caught_up, "the cut-off node applies what it missed")
        back = await clients[1].post("/api/collections/events/records", headers=auth, json={"tag": "back"})
        assert back.status_code == 200, back.text
        assert (await _ids(clients[1], token)) >= {"" + back.json()["id"]}
    finally:
        for client in clients:
            await client.aclose()


async def test_one_node_with_two_workers(tmp_path: Path) -> None:
    """`--ha` on one machine (R1) with `--workers 2`: whichever process takes a write publishes
    it, both apply, and a read with X-Core-Min-Seq sees the write on either process."""
    nats_port = free_port()
    server = start_core(
        tmp_path / "one",
        extra_args=["--ha", "--workers", "2", "--nats-port", str(nats_port), "--nats-monitor-port", "0"],
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
            token = await superuser_token(client)
            auth = {"Authorization": token}
            made = await client.post(
                "/api/collections",
                headers=auth,
                json={"name": "events", "fields": [{"name": "tag", "type": "text"}]},
            )
            assert made.status_code == 200, made.text
            acked: list[tuple[str, str]] = []

            async def write(i: int) -> None:
                # a new connection each time: the kernel spreads them over both processes
                async with httpx.AsyncClient(base_url=server.url, timeout=15) as fresh:
                    resp = await fresh.post(
                        "/api/collections/events/records", headers=auth, json={"tag": f"t{i}"}
                    )
                    assert resp.status_code == 200, resp.text
                    acked.append((resp.json()["id"], resp.headers["x-core-seq"]))
                    seen = await fresh.get(
                        f"/api/collections/events/records/{resp.json()['id']}",
                        headers={**auth, "X-Core-Min-Seq": resp.headers["x-core-seq"]},
                    )
                    assert seen.status_code == 200, seen.text

            await asyncio.gather(*(write(i) for i in range(60)))
            assert len({seq for _, seq in acked}) > 1
            ids = await _ids(client, token)
            assert {record_id for record_id, _ in acked} <= ids
            shown = await ha_status(tmp_path / "one", nats_port)
            assert shown["replicas"] == 1 and shown["local"]["lag"] == 0
            assert len(shown["nodes"]) == 1  # the leader reports; its follower does not pose as a node
    finally:
        server.stop()


async def ha_status(data_dir: Path, nats_port: int | str) -> Any:
    """What `core ha status --json` prints beside the node of `data_dir`."""
    status = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "core", "ha", "status", "--json", "--dir", str(data_dir)),
        *("--nats-url", f"nats://127.0.0.1:{nats_port}"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(REPO_ROOT),
    )
    out, err = await status.communicate()
    assert status.returncode == 0, err.decode()
    return json.loads(out)

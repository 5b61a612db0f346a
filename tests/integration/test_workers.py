"""`core serve --workers 2`: two processes on one port and one data dir behave as one server.

Each check talks to a chosen worker: the kernel spreads new connections over the processes
listening on the port, so the helper opens connections until it holds one served by each
(it asks /proc which process owns the server end of the connection).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, REPO_ROOT, ServerProcess, start_core

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "children").read_text().split()
        except FileNotFoundError:  # a thread that ended while we looked
            continue
        out += [int(p) for p in text]
    return out


def core_pids(server: ServerProcess) -> list[int]:
    """The leader and its followers (not nats-server)."""
    pids = [server.pid]
    for child in _children(server.pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"serve" in cmdline:
            pids.append(child)
    return pids


def _server_inode(port: int, client_port: int) -> str | None:
    want_local, want_remote = f"{port:04X}", f"{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if local.endswith(":" + want_local) and remote.endswith(":" + want_remote):
            return inode
    return None


def owner_of(sock: socket.socket, port: int, pids: list[int]) -> int | None:
    inode = None
    for _ in range(50):  # the accepted socket shows up a moment after connect()
        inode = _server_inode(port, sock.getsockname()[1])
        if inode is not None:
            break
        time.sleep(0.01)
    target = f"socket:[{inode}]"
    for _ in range(50):
        for pid in pids:
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except FileNotFoundError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
                except OSError:
                    continue
        time.sleep(0.01)
    return None


def make_collection(worker: Worker, name: str, *fields: str, **rules: str | None) -> None:
    """A base collection with text fields, created as superuser; rules default to superusers only."""
    status, body = worker.call(
        "POST",
        "/api/collections",
        {"name": name, "type": "base", **rules, "fields": [{"name": f, "type": "text"} for f in fields]},
    )
    assert status == 200, body


class Worker:
    """A keep-alive HTTP connection served by one known worker process."""

    def __init__(self, conn: http.client.HTTPConnection, pid: int) -> None:
        self.conn = conn
        self.pid = pid
        self.token = ""

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token or self.token:
            headers["Authorization"] = token or self.token
        self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None)


def connect_to_each(server: ServerProcess, timeout: float = 30.0) -> dict[int, Worker]:
    """One connection per worker process (waits for the followers to start)."""
    found: dict[int, Worker] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = core_pids(server)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.connect()
        except OSError:
            time.sleep(0.1)
            continue
        assert conn.sock is not None
        pid = owner_of(conn.sock, server.port, pids)
        if pid is not None and pid not in found:
            found[pid] = Worker(conn, pid)
            if len(found) == 2:
                return found
        else:
            conn.close()
        time.sleep(0.02)
    raise AssertionError(f"no connection to each of 2 workers; got {list(found)}, pids {core_pids(server)}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_core(tmp_path_factory.mktemp("workers") / "data", extra_args=["--workers", "2"])
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def workers(server: ServerProcess) -> Iterator[tuple[Worker, Worker]]:
    by_pid = connect_to_each(server)
    leader = by_pid.pop(server.pid)
    (follower,) = by_pid.values()
    status, body = leader.call(
        "POST",
        "/api/collections/_superusers/auth-with-password",
        {"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
    )
    assert status == 200, body
    leader.token = follower.token = body["token"]
    yield leader, follower
    leader.conn.close()
    follower.conn.close()


def test_a_change_on_one_worker_is_seen_at_once_by_the_other(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    make_collection(a, "memos", "title", listRule="", createRule="")
    status, body = b.call("POST", "/api/collections/memos/records", {"title": "on the other worker"})
    assert status == 200, body
    # a rule change: the follower must stop serving guests right away
    status, _ = a.call("PATCH", "/api/collections/memos", {"listRule": None})
    assert status == 200
    status, body = b.call("GET", "/api/collections/memos/records", token="")
    b.token, token = "", b.token
    status, body = b.call("GET", "/api/collections/memos/records")
    b.token = token
    assert status == 403, body
    # settings
    status, _ = b.call("PATCH", "/api/settings", {"meta": {"appName": "Two Workers"}})
    assert status == 200
    status, body = a.call("GET", "/api/settings")
    assert status == 200 and body["meta"]["appName"] == "Two Workers"


def test_a_new_password_on_one_worker_revokes_tokens_on_the_other(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    status, user = a.call(
        "POST",
        "/api/collections/users/records",
        {"email": "w@example.com", "password": "password-one", "passwordConfirm": "password-one"},
    )
    assert status == 200, user
    status, body = b.call(
        "POST",
        "/api/collections/users/auth-with-password",
        {"identity": "w@example.com", "password": "password-one"},
    )
    assert status == 200, body
    old = body["token"]
    status, _ = b.call("POST", "/api/collections/users/auth-refresh", token=old)
    assert status == 200  # valid, and now cached by the follower
    status, _ = a.call(
        "PATCH",
        f"/api/collections/users/records/{user['id']}",
        {"password": "password-two", "passwordConfirm": "password-two"},
    )
    assert status == 200
    status, body = b.call("POST", "/api/collections/users/auth-refresh", token=old)
    assert status == 401, body


def test_concurrent_writes_through_both_workers_are_all_kept(
    server: ServerProcess, workers: tuple[Worker, Worker]
) -> None:
    a, _ = workers
    make_collection(a, "hits", "n", createRule="")

    def create(n: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # a new connection each
        conn.request(
            "POST",
            "/api/collections/hits/records",
            body=json.dumps({"n": n}),
            headers={"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
        conn.close()
        if status != 200:
            print("FAILED", n, status, body)
        return status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(create, range(300)))
    assert statuses == [200] * 300
    status, body = a.call("GET", "/api/collections/hits/records?perPage=1")
    assert status == 200 and body["totalItems"] == 300


def _read_until(sock: socket.socket, needle: bytes, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not received; got {data[-500:]!r}")
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"stream closed; got {data[-500:]!r}")
        data += chunk
    return data


def test_a_subscription_posted_to_the_other_worker(
    server: ServerProcess, workers: tuple[Worker, Worker]
) -> None:
    a, b = workers
    make_collection(a, "live", "title", listRule="", createRule="")
    pids = core_pids(server)
    for _ in range(200):  # an SSE connection served by the leader
        sock = socket.create_connection(("127.0.0.1", server.port))
        if owner_of(sock, server.port, pids) == a.pid:
            break
        sock.close()
    else:
        raise AssertionError("no SSE connection landed on the leader")
    try:
        sock.sendall(b"GET /api/realtime HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        head = _read_until(sock, b"event:PB_CONNECT")
        client_id = head.split(b"id:", 1)[1].split(b"\n", 1)[0].decode()
        status, body = b.call(
            "POST", "/api/realtime", {"clientId": client_id, "subscriptions": ["live/*"]}, token=""
        )
        assert status == 204, body
        status, body = b.call("POST", "/api/realtime", {"clientId": "x" * 40, "subscriptions": ["live/*"]})
        assert status == 404, body
        status, body = b.call("POST", "/api/collections/live/records", {"title": "hello across"})
        assert status == 200, body
        _read_until(sock, b"hello across")
    finally:
        sock.close()


def test_a_restore_on_one_worker_reopens_the_other(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    make_collection(a, "kept", "title", listRule="", viewRule="", createRule="")
    status, body = a.call("POST", "/api/backups", {"name": "before.zip"})
    assert status == 204, body
    status, after = a.call("POST", "/api/collections/kept/records", {"title": "after the backup"})
    assert status == 200
    status, body = b.call("POST", "/api/backups/before.zip/restore")
    assert status == 204, body
    for w in (a, b):
        status, body = w.call("GET", f"/api/collections/kept/records/{after['id']}")
        assert status == 404, (w.pid, body)
        status, body = w.call("POST", "/api/collections/kept/records", {"title": "written after the restore"})
        assert status == 200, (w.pid, body)


def test_a_killed_follower_is_started_again(server: ServerProcess) -> None:
    followers = [p for p in core_pids(server) if p != server.pid]
    assert len(followers) == 1
    os.kill(followers[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = [p for p in core_pids(server) if p != server.pid]
        if now and now != followers:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the follower was not started again")
    by_pid = connect_to_each(server)
    assert set(by_pid) == {server.pid, now[0]}
    for w in by_pid.values():
        status, _ = w.call("GET", "/api/health")
        assert status == 200
        w.conn.close()


def test_a_second_server_on_the_same_port_is_refused(server: ServerProcess, tmp_path: Path) -> None:
    # granian listens with SO_REUSEPORT: without a check of its own, core would share the port
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "serve",
            "--http",
            f"127.0.0.1:{server.port}",
            "--dir",
            str(tmp_path),
            "--no-nats",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert f"127.0.0.1:{server.port} is already in use" in done.stderr


TITLE = re.compile(rb'"title":"([^"]+)"')


def connection_to(server: ServerProcess, pid: int) -> http.client.HTTPConnection:
    pids = core_pids(server)
    for _ in range(200):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.connect()
        assert conn.sock is not None
        if owner_of(conn.sock, server.port, pids) == pid:
            return conn
        conn.close()
    raise AssertionError(f"no connection landed on worker {pid}")


class Stream:
    """An SSE stream served by a chosen worker, read to the end on a thread of its own."""

    def __init__(self, server: ServerProcess, pid: int) -> None:
        conn = connection_to(server, pid)
        conn.request("GET", "/api/realtime", headers={"Accept": "text/event-stream"})
        self.response = conn.getresponse()
        self.conn = conn
        self.data = b""
        self.closed = False
        self._lock = threading.Lock()
        head = b""
        while b"PB_CONNECT" not in head or not head.endswith(b"\n\n"):
            head += self.response.read1(65536)
        self.client_id = head.split(b"id:", 1)[1].split(b"\n", 1)[0].decode()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while chunk := self.response.read1(65536):
                with self._lock:
                    self.data += chunk
        except (OSError, ValueError, http.client.HTTPException):
            pass  # the stream ended
        self.closed = True

    def titles(self) -> list[str]:
        with self._lock:
            return [t.decode() for t in TITLE.findall(self.data)]

    def wait_for(self, expected: list[str], timeout: float = 30.0) -> None:
        """Every expected title, each once (the order across workers is not defined)."""
        deadline = time.monotonic() + timeout
        while not set(expected) <= set(self.titles()) and time.monotonic() < deadline:
            assert not self.closed, f"stream closed; got {self.titles()}"
            time.sleep(0.05)
        got = [t for t in self.titles() if t in set(expected)]
        assert sorted(got) == sorted(expected), sorted(set(expected) - set(got))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        self.conn.close()
        self._thread.join(10)


def _sign_in(worker: Worker) -> None:
    status, body = worker.call(
        "POST",
        "/api/collections/_superusers/auth-with-password",
        {"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
    )
    assert status == 200, body
    worker.token = body["token"]


def _stream(server: ServerProcess, pid: int, via: Worker) -> Stream:
    """A subscriber of `feed/*` on worker `pid`, subscribed through `via` (either worker)."""
    stream = Stream(server, pid)
    status, body = via.call(
        "POST", "/api/realtime", {"clientId": stream.client_id, "subscriptions": ["feed/*"]}
    )
    assert status == 204, body
    return stream


def _write(workers: list[Worker], prefix: str, count: int, pause: float = 0.0) -> list[str]:
    """`count` records through each worker in turn; their titles."""
    titles = []
    for i in range(count):
        for n, w in enumerate(workers):
            title = f"{prefix}-{n}-{i}"
            status, body = w.call("POST", "/api/collections/feed/records", {"title": title})
            assert status == 200, body
            titles.append(title)
        if pause:
            time.sleep(pause)
    return titles


def _nats_server_pid(server: ServerProcess) -> int:
    for child in _children(server.pid):
        with contextlib.suppress(FileNotFoundError):
            if Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0].endswith(b"nats-server"):
                return child
    raise AssertionError("no nats-server child")


def test_every_subscriber_gets_every_event_across_restarts(tmp_path: Path) -> None:
    """Subscribers on both workers, writes through both: right after start, after the follower
    is killed and started again, and while nats-server is killed and started again. Each time
    a worker writes as soon as it serves, while the other one already has a subscriber."""
    server = start_core(tmp_path / "data", extra_args=["--workers", "2"])
    streams: list[Stream] = []
    try:
        # the leader serves, its follower is starting: the leader gets a subscriber
        leader = Worker(connection_to(server, server.pid), server.pid)
        _sign_in(leader)
        make_collection(leader, "feed", "title", listRule="", createRule="")
        streams.append(_stream(server, leader.pid, leader))
        by_pid = connect_to_each(server)
        by_pid.pop(server.pid).conn.close()
        (follower,) = by_pid.values()
        expected = _write([follower, leader], "start", 30)
        streams[0].wait_for(expected)
        streams.append(_stream(server, follower.pid, leader))
        expected = _write([leader, follower], "both", 30)
        for s in streams:
            s.wait_for(expected)

        # the follower is killed; its successor writes as soon as it serves
        streams.pop().close()
        os.kill(follower.pid, signal.SIGKILL)
        follower.conn.close()
        while follower.pid in core_pids(server):
            time.sleep(0.05)
        by_pid = connect_to_each(server)
        by_pid.pop(server.pid).conn.close()
        (follower,) = by_pid.values()
        expected = _write([follower, leader], "restarted", 30)
        streams[0].wait_for(expected)
        streams.append(_stream(server, follower.pid, follower))
        expected = _write([leader, follower], "both-again", 30)
        for s in streams:
            s.wait_for(expected)

        # nats-server is killed: the leader starts it again; writes go on meanwhile and after
        os.kill(_nats_server_pid(server), signal.SIGKILL)
        expected = _write([leader, follower], "nats", 40, pause=0.05)
        for s in streams:
            s.wait_for(expected)
        assert "are lost" not in server.log_tail(400)
    finally:
        for s in streams:
            s.close()
        server.stop()

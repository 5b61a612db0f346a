"""The HTTP server at the connection level, against a real `core serve`: bytes that are not
HTTP/1.1, connections that never send a byte, file descriptor pressure, and SIGTERM under load.

Timeouts here are upper bounds for a failure to show as a failure, never speed assertions.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, REPO_ROOT, ServerProcess, free_port, start_core

READ_TIMEOUT = "1"  # CORE_HTTP_READ_TIMEOUT for these servers: the tests wait for it
GIVE_UP = 30.0  # a socket read that has not ended by then is a hang


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("http") / "data"
    with start_core(data, env={"CORE_HTTP_READ_TIMEOUT": READ_TIMEOUT}) as proc:
        yield proc


def _exchange(port: int, data: bytes) -> bytes:
    """Send `data`, then read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=GIVE_UP) as sock:
        if data:
            sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        # an HTTP/2 client without upgrade: closed at once (hyper answers no HTTP/1 to a preface)
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b""),
        (b"hello there\r\n\r\n", b"HTTP/1.1 400 Bad Request\r\n"),
        (b"GET / HTTP/1.1\r\nbroken header line\r\n\r\n", b"HTTP/1.1 400 Bad Request\r\n"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32), b"HTTP/1.1 400 Bad Request\r\n"),  # TLS
        # silent, or a request that never ends its headers: closed after the read timeout
        (b"", b""),
        (b"GET /api/health HTTP/1.1\r\nHost: x\r\n", b""),
    ],
)
def test_bytes_that_are_not_http11_are_answered_and_closed(
    server: ServerProcess, data: bytes, answer: bytes
) -> None:
    received = _exchange(server.port, data)  # returns only once the server closed
    assert received.startswith(answer)
    if not answer:
        assert received == b""


def test_idle_keep_alive_is_closed(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=GIVE_UP) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        assert received.endswith(b'"data":{}}')


def _core_with_nofile(tmp_path: Path, nofile: str, env: dict[str, str] | None = None) -> ServerProcess:
    """`core serve` started under `prlimit --nofile=SOFT:HARD` (prlimit execs it: same pid)."""
    port = free_port()
    data = tmp_path / "data"
    nats = ["--nats-port", str(free_port()), "--nats-leaf-port", str(free_port()), "--nats-monitor-port", "0"]
    argv = ["prlimit", f"--nofile={nofile}", sys.executable, "-m", "core", "serve"]
    argv += ["--http", f"127.0.0.1:{port}", "--dir", str(data), *nats]
    child_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return ServerProcess("core", argv, data, port, env=child_env, cwd=tmp_path).start()


def test_silent_connections_beyond_the_fd_limit_do_not_lock_clients_out(tmp_path: Path) -> None:
    """Hold more silent connections than the server may open files (soft = hard limit, so core
    cannot lift it): they are closed at the read timeout and the server accepts again."""
    with _core_with_nofile(tmp_path, "256:256", {"CORE_HTTP_READ_TIMEOUT": READ_TIMEOUT}) as proc:
        held = [socket.create_connection(("127.0.0.1", proc.port), timeout=GIVE_UP) for _ in range(400)]
        try:
            closed_by_server = 0
            for sock in held:
                if sock.recv(1) == b"":  # every one of them is closed, none is held forever
                    closed_by_server += 1
            assert closed_by_server == len(held)
        finally:
            for sock in held:
                sock.close()
        answered = False
        with httpx.Client(timeout=5) as client:
            for _ in range(60):  # bounded: the last silent ones the kernel queued time out too
                try:
                    answered = client.get(f"{proc.url}/api/health").status_code == 200
                except httpx.HTTPError:
                    answered = False
                if answered:
                    break
        assert answered
        assert proc.is_running()


def test_sigterm_under_load_answers_every_request_started_before_it(tmp_path: Path) -> None:
    proc = start_core(tmp_path / "data")
    token = httpx.post(
        f"{proc.url}/api/collections/_superusers/auth-with-password",
        json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
    ).json()["token"]
    httpx.post(
        f"{proc.url}/api/collections",
        headers={"Authorization": token},
        json={
            "name": "posts",
            "createRule": "",
            "listRule": "",
            "fields": [{"name": "title", "type": "text"}],
        },
    ).raise_for_status()
    signalled = threading.Event()
    failures: list[str] = []
    answered = [0]
    lock = threading.Lock()

    def client(index: int) -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=GIVE_UP)
            sent_before = False
            try:
                if index % 2:
                    body = json.dumps({"title": "x" * 100})
                    conn.request(
                        "POST", "/api/collections/posts/records", body, {"Content-Type": "application/json"}
                    )
                else:
                    conn.request("GET", "/api/collections/posts/records?perPage=50")
                # the request's bytes were with the kernel before the signal was sent
                sent_before = not signalled.is_set()
                conn.getresponse().read()
                with lock:
                    answered[0] += 1
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = None
                if sent_before:
                    with lock:
                        failures.append(f"{type(exc).__name__}: {exc}")
                if signalled.is_set():
                    return

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    try:
        for thread in threads:
            thread.start()
        while answered[0] < 500:  # under load
            time.sleep(0.05)
        signalled.set()  # before the signal: requests sent after this count as sent after it
        os.kill(proc.pid, signal.SIGTERM)
        for thread in threads:
            thread.join(GIVE_UP * 2)
    finally:
        signalled.set()
        code = proc.stop(timeout=GIVE_UP)  # the exit code of the SIGTERM above when it exited
    assert failures == []
    assert code == 0


def test_after_sigterm_keep_alive_answers_say_connection_close(tmp_path: Path) -> None:
    """A keep-alive client that keeps sending while the server stops: every answer is whole,
    and the connection ends either with an answer that says `Connection: close` (the request
    was in flight at the stop: hyper's graceful shutdown) or, when it was idle at that moment,
    closed before the next request was read: the keep-alive race of RFC 9112 9.3.1 that
    clients retry (PocketBase's Go server closes idle connections the same way)."""
    proc = start_core(tmp_path / "data")
    conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=GIVE_UP)
    try:
        conn.request("GET", "/api/health")
        first = conn.getresponse()
        first.read()
        assert first.getheader("connection") is None  # keep-alive while serving
        os.kill(proc.pid, signal.SIGTERM)
        closing = None
        for _ in range(10_000):  # the same connection until an answer closes it
            conn.request("GET", "/api/health")
            try:
                response = conn.getresponse()
            except http.client.RemoteDisconnected:
                closing = "closed while idle"
                break
            assert response.read() and response.status == 200
            if response.getheader("connection") == "close":
                closing = "answered with Connection: close"
                break
        assert closing is not None
    finally:
        conn.close()
        code = proc.stop(timeout=GIVE_UP)
    assert code == 0


def test_open_files_soft_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    """As Go raises it for PocketBase: a soft limit of 1024 is a few hundred idle clients."""
    with _core_with_nofile(tmp_path, "256:4096") as proc:
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
    line = next(row for row in limits.splitlines() if row.startswith("Max open files"))
    assert line.split()[3:5] == ["4096", "4096"]

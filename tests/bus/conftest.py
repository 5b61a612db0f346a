"""A real `core serve` (with its nats-server) for the record events and webhook tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.nats.conftest import run_cli
from tests.servers import ServerProcess, free_port, start_core, superuser_client

POSTS = {
    "name": "posts",
    "type": "base",
    "listRule": "",
    "viewRule": "",
    "createRule": "",
    "updateRule": "",
    "deleteRule": "",
    "fields": [
        {"name": "title", "type": "text"},
        {"name": "note", "type": "text", "hidden": True},
    ],
}


@dataclass
class Core:
    server: ServerProcess
    http: httpx.Client
    data_dir: Path
    nats_port: int
    args: list[str]

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    def creds(self, name: str, *flags: str) -> Path:
        """`core nats creds NAME FLAGS`, written next to the data dir."""
        path = self.data_dir.parent / f"{name}.creds"
        result = run_cli("creds", name, "--dir", str(self.data_dir), "-o", str(path), *flags)
        assert result.returncode == 0, result.stderr
        return path

    def restart(self) -> None:
        self.server.stop()
        self.server = start_core(self.data_dir, extra_args=self.args, port=self.server.port)
        self.http = superuser_client(self.server)


def start(data_dir: Path, *extra: str) -> Core:
    nats_port = free_port()
    args = [
        "--nats-port",
        str(nats_port),
        "--nats-leaf-port",
        str(free_port()),
        "--nats-monitor-port",
        "0",
        *(extra if "--no-events" in extra else ("--events", *extra)),
    ]
    server = start_core(data_dir, extra_args=args)
    http = superuser_client(server)
    resp = http.post("/api/collections", json=POSTS)
    assert resp.status_code == 200, resp.text
    return Core(server, http, data_dir, nats_port, args)


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Core]:
    c = start(tmp_path_factory.mktemp("bus") / "data")
    try:
        yield c
    finally:
        c.server.stop()


@dataclass
class Receiver:
    """A loopback HTTP server that records every POST and answers with `status`."""

    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        with self.arrived:
            return [json.loads(r["body"]) for r in self.requests]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"{len(self.requests)} of {count} deliveries arrived")
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = rec.status
            with rec.arrived:
                rec.requests.append(
                    {"headers": dict(self.headers), "body": body, "status": status, "at": time.monotonic()}
                )
                rec.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()

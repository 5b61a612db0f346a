"""HEAD answers as GET without a body (PocketBase's Go ServeMux matches HEAD on GET routes)."""

from __future__ import annotations

import socket

import pytest

from tests.servers import start_core


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with start_core(tmp_path_factory.mktemp("head"), extra_args=["--no-nats"]) as s:
        yield s


def _head(base: str, path: str) -> tuple[int, dict[str, str], bytes]:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, rest


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/health", 200),
        ("/api/collections/users/records", 200),
        ("/api/realtime", 200),
        ("/api/files/nope/nope/nope.txt", 404),
        ("/nope", 404),
    ],
)
def test_head_answers_like_get_without_a_body(server, path, status):
    code, headers, body = _head(server.url, path)
    assert code == status
    assert body in (b"", b"0\r\n\r\n")  # a streamed answer may close its chunked encoding
    assert "x-content-type-options" in headers

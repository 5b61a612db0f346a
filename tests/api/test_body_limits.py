"""Request bodies against a real `core serve`: cut short, over the limit (chunked too), and large
uploads that the collection's file fields allow (PocketBase sizes record bodies from them)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess, start_core

pytestmark = pytest.mark.slow

BLOBS = {
    "name": "blobs",
    "type": "base",
    "createRule": "",
    "listRule": "",
    "fields": [
        {"name": "title", "type": "text"},
        {"name": "small", "type": "file", "maxSize": 1 << 20},
        {"name": "large", "type": "file", "maxSize": 200 << 20},
    ],
}
# PocketBase: 32 MB for the body plus each file field's maxSize x maxSelect
BLOBS_LIMIT = (32 << 20) + (1 << 20) + (200 << 20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with start_core(tmp_path_factory.mktemp("limits"), extra_args=["--no-nats"]) as srv:
        yield srv


@pytest.fixture(scope="module")
def token(server: ServerProcess) -> str:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        token: str = c.post(
            "/api/collections/_superusers/auth-with-password",
            json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
        ).json()["token"]
        c.headers["Authorization"] = token
        assert c.post("/api/collections", json=BLOBS).status_code == 200
        settings = {"batch": {"enabled": True, "maxRequests": 10, "maxBodySize": 1 << 20}}
        assert c.patch("/api/settings", json=settings).status_code == 200
    return token


def _exchange(server: ServerProcess, head: bytes, body_parts: Iterator[bytes], close_early: bool) -> bytes:
    """Send a request over a raw socket; `close_early` shuts our side before the body is complete."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        try:
            sock.sendall(head)
            for part in body_parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking everything: read the answer
        if close_early:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                    break
        except ConnectionResetError:
            pass
        return answer


def _head(method: str, path: str, token: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: {token}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


MULTIPART = "multipart/form-data; boundary=XX"
PART = b'--XX\r\nContent-Disposition: form-data; name="title"\r\n\r\nabc\r\n'


@pytest.mark.parametrize(
    ("method", "path", "content_type", "sent"),
    [
        ("POST", "/api/collections/blobs/records", "application/json", b'{"title": "x'),
        ("POST", "/api/collections/blobs/records", MULTIPART, PART),
        ("POST", "/api/collections", "application/json", b'{"name": "cut'),
        ("PATCH", "/api/settings", "application/json", b'{"meta": '),
        ("POST", "/api/batch", "application/json", b'{"requests": ['),
    ],
)
def test_body_shorter_than_its_length_is_a_clean_400(
    server: ServerProcess, token: str, method: str, path: str, content_type: str, sent: bytes
) -> None:
    head = _head(method, path, token, {"Content-Type": content_type, "Content-Length": "1000"})
    answer = _exchange(server, head, iter([sent]), close_early=True)
    # a clean 400, or the connection closed without an answer; never a 500
    assert _status(answer) in (400, None), answer[:300]
    log = server.log_tail(400)
    assert "Traceback" not in log and " ERROR " not in log, log


def _chunked(total: int, piece: bytes, finish: bool) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
        sent += len(piece)
    if finish:
        yield b"0\r\n\r\n"


def test_chunked_batch_stops_at_its_limit(server: ServerProcess, token: str) -> None:
    """The body never ends (no last chunk): only a server that stops reading at maxBodySize can
    answer, and it must answer 413."""
    head = _head(
        "POST", "/api/batch", token, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    parts = iter([b'5\r\n{"a":\r\n', *_chunked(3 << 20, b" " * (64 << 10), finish=False)])
    answer = _exchange(server, head, parts, close_early=False)
    assert _status(answer) == 413, answer[:300]
    assert answer.endswith(b'{"data":{},"message":"Request entity too large.","status":413}')


def test_chunked_multipart_record_stops_at_the_collection_limit(server: ServerProcess, token: str) -> None:
    head = _head(
        "POST",
        "/api/collections/blobs/records",
        token,
        {"Content-Type": MULTIPART, "Transfer-Encoding": "chunked"},
    )
    file_head = b'--XX\r\nContent-Disposition: form-data; name="large"; filename="a.bin"\r\n\r\n'
    parts = iter(
        [
            b"%x\r\n%s\r\n" % (len(file_head), file_head),
            *_chunked(BLOBS_LIMIT + (1 << 20), b"x" * (1 << 20), False),
        ]
    )
    answer = _exchange(server, head, parts, close_early=False)
    assert _status(answer) == 413, answer[:300]
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.get("/api/collections/blobs/records").json()["totalItems"] == 0


def test_declared_length_over_the_collection_limit_is_413(server: ServerProcess, token: str) -> None:
    head = _head(
        "POST",
        "/api/collections/blobs/records",
        token,
        {"Content-Type": MULTIPART, "Content-Length": str(BLOBS_LIMIT + 1)},
    )
    answer = _exchange(server, head, iter([PART]), close_early=True)
    assert _status(answer) == 413, answer[:300]


def test_large_upload_within_the_field_limit_is_stored(
    server: ServerProcess, token: str, tmp_path: Path
) -> None:
    """150 MB into a field allowing 200 MB: over core's old fixed 64 MB limit, within PocketBase's
    per-collection one. Streamed from disk on the client side too."""
    size = 150 << 20
    source = tmp_path / "big.bin"
    with source.open("wb") as fh:
        fh.truncate(size)
    with httpx.Client(base_url=server.url, timeout=120) as c, source.open("rb") as fh:
        resp = c.post(
            "/api/collections/blobs/records",
            headers={"Authorization": token},
            data={"title": "big"},
            files={"large": ("big.bin", fh, "application/octet-stream")},
        )
        assert resp.status_code == 200, resp.text[:300]
        record = resp.json()
        stored = (
            server.data_dir
            / "pocketbase"
            / "storage"
            / record["collectionId"]
            / record["id"]
            / record["large"]
        )
        assert stored.stat().st_size == size
        too_big = c.post(
            "/api/collections/blobs/records",
            headers={"Authorization": token},
            files={"small": ("two.bin", b"x" * ((1 << 20) + 1))},
        )
        assert too_big.status_code == 400
        assert too_big.json()["data"]["small"]["code"] == "validation_file_size_limit"

"""A full disk, for real: `core serve` on a small tmpfs that a filler file fills up.

Writes must answer the storage-full server error (not a 400 like bad input), leave nothing
behind, be logged once at ERROR without a traceback; reads keep working; writes work again once
space is freed. Mounting needs root (CAP_SYS_ADMIN): the test is skipped only when the mount fails.
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.errors import STORAGE_FULL, STORAGE_FULL_STATUS
from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess, start_core

pytestmark = pytest.mark.slow

POSTS = {
    "name": "posts",
    "type": "base",
    "listRule": "",
    "viewRule": "",
    "createRule": "",
    "updateRule": "",
    "fields": [
        {"name": "title", "type": "text", "max": 4_000_000},
        {"name": "doc", "type": "file", "maxSize": 8 << 20},
    ],
}


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """The data dir's `pocketbase/` (data.db, storage) on 24 MB; the server log stays outside."""
    mount = tmp_path / "data" / "pocketbase"
    mount.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Write until the filesystem has no byte left (unbuffered: every byte that fits lands)."""
    with path.open("wb", buffering=0) as fh:
        for size in (256 << 10, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * size)
    with pytest.raises(OSError) as full:
        (path.parent / "probe").write_bytes(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC


@pytest.fixture
def server(small_fs: Path) -> Iterator[ServerProcess]:
    with start_core(small_fs.parent, extra_args=["--no-nats"]) as srv:
        yield srv


def test_disk_full_answers_storage_full_and_recovers(server: ServerProcess, small_fs: Path) -> None:
    c = httpx.Client(base_url=server.url, timeout=30)
    token = c.post(
        "/api/collections/_superusers/auth-with-password",
        json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
    ).json()["token"]
    c.headers["Authorization"] = token
    assert c.post("/api/collections", json=POSTS).status_code == 200
    kept = c.post("/api/collections/posts/records", json={"title": "before"}).json()["id"]

    filler = small_fs / "filler"
    fill(filler)
    expected = {"data": {}, "message": STORAGE_FULL, "status": STORAGE_FULL_STATUS}
    upload = c.post(
        "/api/collections/posts/records", data={"title": "u"}, files={"doc": ("a.bin", b"x" * (2 << 20))}
    )
    assert (upload.status_code, upload.json()) == (STORAGE_FULL_STATUS, expected)
    big_row = c.post("/api/collections/posts/records", json={"title": "y" * 3_000_000})
    assert (big_row.status_code, big_row.json()) == (STORAGE_FULL_STATUS, expected)

    # nothing was left behind, and reads keep working
    listed = c.get("/api/collections/posts/records").json()
    assert [r["id"] for r in listed["items"]] == [kept]
    assert c.get(f"/api/collections/posts/records/{kept}").status_code == 200
    assert not list((small_fs / "storage").rglob("a_*.bin"))

    filler.unlink()
    again = c.post(
        "/api/collections/posts/records", data={"title": "after"}, files={"doc": ("a.bin", b"x" * 1000)}
    )
    assert again.status_code == 200, again.text
    assert c.get("/api/collections/posts/records").json()["totalItems"] == 2

    log = server.log_path.read_text()
    full_lines = [line for line in log.splitlines() if "is full" in line]
    assert len(full_lines) == 1 and " ERROR " in full_lines[0], full_lines
    assert "Traceback" not in log

"""Smoke test of the one-file executable (dist/core), as CI runs it before a release.

Built once per session if missing or older than its sources (conftest.core_bin). Each server
unpacks into its own TMPDIR, so the `_MEI*` dirs it leaves (or not) are easy to see.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from PIL import Image

from tests.packaging.proctree import alive, descendants, exe_name, mentioning, wait_gone
from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, ServerProcess, free_port, start_core

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
SDK_DIR = HERE.parent / "js" / "node_modules" / "pocketbase"


def nats_args(client_port: int) -> list[str]:
    # Free ports for every listener, so a core (or the NATS tests) elsewhere on the box never collides.
    return [
        "--nats-port",
        str(client_port),
        "--nats-monitor-port",
        "0",
        "--nats-cluster-port",
        str(free_port()),
        "--nats-gateway-port",
        str(free_port()),
        "--nats-leaf-port",
        str(free_port()),
    ]


def start(core_bin: Path, root: Path, nats_port: int | None = None, *extra: str) -> ServerProcess:
    tmp = root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return start_core(
        root / "data",
        extra_args=[*nats_args(nats_port or free_port()), *extra],
        env={"CORE_BIN": str(core_bin), "TMPDIR": str(tmp), "CORE_CACHE_DIR": str(root / "cache")},
    )


def unpack_dirs(root: Path) -> list[Path]:
    return sorted((root / "tmp").glob("_MEI*"))


def tree(server: ServerProcess) -> dict[str, list[int]]:
    """The executable's processes by role: the bootloader, the Python child, nats-server."""
    kids = descendants(server.pid)
    return {
        "bootloader": [server.pid],
        "core": [pid for pid in kids if exe_name(pid) == exe_name(server.pid)],
        "nats-server": [pid for pid in kids if exe_name(pid) == "nats-server"],
    }


def assert_no_survivors(pids: dict[str, list[int]], data_dir: Path, timeout: float = 15.0) -> None:
    everyone = [pid for group in pids.values() for pid in group]
    left = wait_gone(everyone, timeout)
    assert left == [], f"still alive after {timeout:.0f}s: {[(p, exe_name(p)) for p in left]} of {pids}"
    # Catches a process the tree missed (re-parented before we looked): anything naming our dir.
    strays = [pid for pid in mentioning(str(data_dir)) if alive(pid)]
    assert strays == [], f"processes still using {data_dir}: {[(p, exe_name(p)) for p in strays]}"


@pytest.fixture(scope="module")
def served(core_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, int]]:
    root = tmp_path_factory.mktemp("frozen")
    nats_port = free_port()
    server = start(core_bin, root, nats_port)
    try:
        yield server, nats_port
    finally:
        server.stop()


def test_health(served: tuple[ServerProcess, int]) -> None:
    server, _ = served
    resp = httpx.get(f"{server.url}/api/health", timeout=5)
    assert resp.status_code == 200, resp.text
    assert resp.json()["code"] == 200


def test_version_names_the_bundled_nats_server(core_bin: Path, tmp_path: Path) -> None:
    # A bare environment, as on a deploy host: no venv on PATH whose nats-server could answer.
    proc = subprocess.run(
        [str(core_bin), "version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines["core"] and lines["SQLite"].startswith("3.")
    assert lines["nats-server"][0].isdigit(), f"bundled nats-server not found: {proc.stdout}"
    assert list(tmp_path.iterdir()) == [], "a clean exit removes its unpack dir"


def test_superuser_login(served: tuple[ServerProcess, int]) -> None:
    server, _ = served
    resp = httpx.post(
        f"{server.url}/api/collections/_superusers/auth-with-password",
        json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token"] and body["record"]["email"] == DEFAULT_EMAIL


@pytest.mark.parametrize(
    ("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")]
)
def test_thumbnails_from_the_bundled_pillow(served: tuple[ServerProcess, int], fmt: str, mime: str) -> None:
    # spec/core.spec leaves some of Pillow's codecs out; the ones thumbnails need must still work.
    server, _ = served
    with httpx.Client(base_url=server.url, timeout=20) as client:
        token = client.post(
            "/api/collections/_superusers/auth-with-password",
            json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
        ).json()["token"]
        headers = {"Authorization": token}
        if client.get("/api/collections/smoke_pics", headers=headers).status_code == 404:
            field = {"name": "img", "type": "file", "maxSelect": 1, "maxSize": 5_000_000, "thumbs": ["40x30"]}
            resp = client.post(
                "/api/collections",
                headers=headers,
                json={"name": "smoke_pics", "type": "base", "viewRule": "", "fields": [field]},
            )
            assert resp.status_code == 200, resp.text
        image = io.BytesIO()
        Image.new("RGB", (200, 120), (200, 30, 30)).save(image, fmt)
        ext = fmt.lower().replace("jpeg", "jpg")
        resp = client.post(
            "/api/collections/smoke_pics/records",
            headers=headers,
            files={"img": (f"pic.{ext}", image.getvalue(), mime)},
        )
        assert resp.status_code == 200, resp.text
        record = resp.json()
        thumb = client.get(f"/api/files/smoke_pics/{record['id']}/{record['img']}", params={"thumb": "40x30"})
    assert thumb.status_code == 200, thumb.text
    assert Image.open(io.BytesIO(thumb.content)).size == (40, 30)


@pytest.mark.js
def test_js_sdk_create_and_list(served: tuple[ServerProcess, int]) -> None:
    server, _ = served
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the smoke test drives the JS SDK (apt-get install nodejs npm)")
    if not (SDK_DIR / "package.json").exists():
        pytest.fail(f"{SDK_DIR} missing: run `npm ci` in tests/js (scripts/test does)")
    proc = subprocess.run(
        [node, str(HERE / "sdk_smoke.mjs"), server.url, DEFAULT_EMAIL, DEFAULT_PASSWORD],
        capture_output=True,
        text=True,
        timeout=120,
    )
    context = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\nserver log:\n{server.log_tail(30)}"
    assert proc.returncode == 0, context
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ok"] is True, context
    assert report["superuser"] == DEFAULT_EMAIL
    assert report["total"] == 1
    assert report["items"] == [{"id": report["created"], "title": "from the frozen core"}]


async def test_nats_creds_connect(served: tuple[ServerProcess, int], core_bin: Path, tmp_path: Path) -> None:
    server, nats_port = served
    creds = tmp_path / "smoke.creds"
    proc = subprocess.run(
        [str(core_bin), "nats", "creds", "smoke", "--dir", str(server.data_dir), "-o", str(creds)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert creds.stat().st_mode & 0o777 == 0o600
    nc = await nats.connect(
        f"nats://127.0.0.1:{nats_port}",
        user_credentials=str(creds),
        connect_timeout=5,
        allow_reconnect=False,
    )
    try:
        sub = await nc.subscribe("smoke.ping")
        await nc.publish("smoke.ping", b"hello from the frozen core")
        msg = await sub.next_msg(timeout=5)
        assert msg.data == b"hello from the frozen core"
        # The `app` account has JetStream: the embedded server runs it from the data dir.
        info = await nc.jetstream().account_info()
        assert info.limits is not None
    finally:
        await nc.close()


def test_sigterm_stops_everything_and_cleans_up(core_bin: Path, tmp_path: Path) -> None:
    server = start(core_bin, tmp_path)
    try:
        pids = tree(server)
        assert pids["core"] and pids["nats-server"], f"expected bootloader -> core -> nats-server: {pids}"
        nats_exe = Path(os.readlink(f"/proc/{pids['nats-server'][0]}/exe"))
        # unpacked once into the cache (not the unpack dir) and run from there under its own name
        assert nats_exe.name == "nats-server" and nats_exe.parent.parent == tmp_path / "cache", nats_exe
        # so are the big extension modules, loaded from there by core.frozen's finder
        maps = Path(f"/proc/{pids['core'][0]}/maps").read_text()
        for module in ("_granian", "_rust.abi3"):
            assert any(module in line and str(tmp_path / "cache") in line for line in maps.splitlines()), (
                module
            )
        os.kill(server.pid, signal.SIGTERM)  # the bootloader only, as systemd (KillMode=mixed) does
        assert_no_survivors(pids, server.data_dir)
        assert not server.is_running()
    finally:
        code = server.stop()
    assert code == 0, f"exit code {code}\n{server.log_tail(30)}"
    assert unpack_dirs(tmp_path) == [], "a clean shutdown removes its unpack dir"


def test_sigkill_leaves_no_survivors_and_next_start_sweeps(core_bin: Path, tmp_path: Path) -> None:
    server = start(core_bin, tmp_path)
    try:
        pids = tree(server)
        assert pids["core"] and pids["nats-server"], f"expected bootloader -> core -> nats-server: {pids}"
        os.kill(server.pid, signal.SIGKILL)  # the bootloader only: its children must follow it
        assert_no_survivors(pids, server.data_dir)
    finally:
        server.stop()
    leaked = unpack_dirs(tmp_path)
    assert len(leaked) == 1, "SIGKILL gives the bootloader no chance to delete its unpack dir"

    # The next start sweeps it, once it is older than the grace period that protects a dir
    # whose core is still starting.
    old = time.time() - 3600
    os.utime(leaked[0], (old, old))
    again = start(core_bin, tmp_path)
    try:
        current = unpack_dirs(tmp_path)
        assert leaked[0] not in current and len(current) == 1, current
        assert "removed 1 unpack dir" in again.log_tail()
    finally:
        again.stop()


def test_workers_run_from_the_executable_and_die_with_the_leader(core_bin: Path, tmp_path: Path) -> None:
    server = start(core_bin, tmp_path, None, "--workers", "2")
    try:
        deadline = time.monotonic() + 30
        while len((pids := tree(server))["core"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(pids["core"]) == 2 and pids["nats-server"], pids
        # the follower runs from the leader's unpack dir: one `_MEI*` dir, not two
        assert len(unpack_dirs(tmp_path)) == 1
        leader = next(pid for pid in pids["core"] if _parent(pid) == server.pid)
        os.kill(leader, signal.SIGKILL)  # its follower and nats-server must follow it
        assert_no_survivors(pids, server.data_dir)
    finally:
        server.stop()


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])

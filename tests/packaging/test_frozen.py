"""core.frozen without freezing: the unpack-dir sweep and the path helpers, on fake dirs."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from core import frozen
from tests.packaging.proctree import wait_gone

OLD = time.time() - 3600


def unpack_dir(tmp: Path, name: str, *, marker: bool = True, mtime: float = OLD) -> Path:
    """A fake `_MEI*` dir as the one-file bootloader leaves it (the mtime is set last)."""
    path = tmp / name
    (path / "core").mkdir(parents=True)
    (path / "libpython3.11.so.1.0").write_bytes(b"\0" * 64)
    os.symlink("libpython3.11.so.1.0", path / "libpython3.so")
    if marker:
        (path / frozen.BUNDLE_MARKER).write_text("core test\n")
    os.utime(path, (mtime, mtime))
    return path


def test_sweep_removes_only_dead_core_dirs(tmp_path: Path) -> None:
    dead = unpack_dir(tmp_path, "_MEI00000001aaaaaa")
    own = unpack_dir(tmp_path, "_MEI00000002bbbbbb")
    young = unpack_dir(tmp_path, "_MEI00000003cccccc", mtime=time.time())
    foreign = unpack_dir(tmp_path, "_MEI00000004dddddd", marker=False)  # another PyInstaller app
    unrelated = unpack_dir(tmp_path, "not_a_bundle")
    half_swept = unpack_dir(tmp_path, "_MEI00000005eeeeee" + frozen.CLAIMED_SUFFIX, marker=False)
    (tmp_path / "_MEI00000006ffffff").symlink_to(dead)
    live = unpack_dir(tmp_path, "_MEI00000007gggggg")
    fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # what a running core holds on its own dir
        removed = frozen.sweep_stale_bundles(tmp_path, keep=own)
    finally:
        os.close(fd)
    assert sorted(removed) == sorted([dead, half_swept])
    assert not dead.exists() and not half_swept.exists()
    assert not dead.with_name(dead.name + frozen.CLAIMED_SUFFIX).exists()
    for kept in (own, young, foreign, unrelated, live, tmp_path / "_MEI00000006ffffff"):
        assert kept.exists() or kept.is_symlink(), kept


def test_sweep_frees_the_dir_once_its_process_is_killed(tmp_path: Path) -> None:
    bundle = unpack_dir(tmp_path, "_MEI00000010hhhhhh")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "fcntl.flock(fd, fcntl.LOCK_SH)\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
            str(bundle),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert frozen.sweep_stale_bundles(tmp_path) == []
        holder.kill()  # SIGKILL: no cleanup code runs, the kernel drops the lock
        holder.wait()
        assert frozen.sweep_stale_bundles(tmp_path) == [bundle]
        assert not bundle.exists()
    finally:
        holder.kill()
        holder.wait()
    assert wait_gone([holder.pid], 5) == []


def test_sweep_of_a_missing_dir_is_a_no_op(tmp_path: Path) -> None:
    assert frozen.sweep_stale_bundles(tmp_path / "nope") == []


def test_not_frozen_everything_is_a_no_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    unpack_dir(tmp_path, "_MEI00000020iiiiii")
    assert not frozen.is_frozen() and not frozen.is_onefile() and frozen.bundle_dir() is None
    frozen.prepare_frozen_process()
    assert (tmp_path / "_MEI00000020iiiiii").exists()


def test_bundled_path_from_source() -> None:
    assert frozen.bundled_path("assets") == frozen.PROJECT_ROOT / "assets"
    nats_server = Path(sysconfig.get_path("scripts")) / "nats-server"
    if nats_server.exists():
        assert frozen.bundled_path("nats-server") == nats_server
    assert frozen.bundled_path("no-such-file") == frozen.PROJECT_ROOT / "no-such-file"


def test_bundled_path_and_layout_when_frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe_dir = tmp_path / "bin"
    exe_dir.mkdir()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe_dir / "core"))

    onefile = tmp_path / "tmp" / "_MEI00000030jjjjjj"
    monkeypatch.setattr(sys, "_MEIPASS", str(onefile), raising=False)
    assert frozen.bundled_path("nats-server") == onefile / "nats-server"
    assert frozen.bundled_path("assets/app.css") == onefile / "assets" / "app.css"
    assert frozen.is_onefile()

    # one-dir: the bundle sits beside the executable, and there is no bootloader parent to follow
    monkeypatch.setattr(sys, "_MEIPASS", str(exe_dir / "_internal"))
    assert frozen.bundled_path("nats-server") == exe_dir / "_internal" / "nats-server"
    assert not frozen.is_onefile()


class FakeLibc:
    """Stands in for libc, so the tests never set a parent-death signal on the test runner."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, ...]] = []

    def prctl(self, *args: int) -> int:
        self.calls.append(args)
        return 0


@pytest.fixture
def libc(monkeypatch: pytest.MonkeyPatch) -> FakeLibc:
    fake = FakeLibc()
    monkeypatch.setattr(frozen.ctypes, "CDLL", lambda *a, **k: fake)
    return fake


def test_child_asks_for_sigterm_when_the_bootloader_dies(
    libc: FakeLibc, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frozen.os, "getppid", lambda: 4242)
    monkeypatch.setattr(frozen, "_same_executable", lambda pid: pid == 4242)
    frozen._die_with_bootloader()
    assert libc.calls == [(1, signal.SIGTERM, 0, 0, 0)]  # PR_SET_PDEATHSIG


@pytest.mark.parametrize(
    ("ppids", "same_exe"),
    [
        ([1, 1], True),  # re-parented to init before we looked
        ([4242, 1], True),  # the bootloader died between getppid() and prctl()
        ([777, 777], False),  # re-parented to a subreaper: not our executable
    ],
)
def test_child_exits_if_the_bootloader_is_already_gone(
    libc: FakeLibc, monkeypatch: pytest.MonkeyPatch, ppids: list[int], same_exe: bool
) -> None:
    answers = iter(ppids)
    monkeypatch.setattr(frozen.os, "getppid", lambda: next(answers))
    monkeypatch.setattr(frozen, "_same_executable", lambda pid: same_exe)
    with pytest.raises(SystemExit):
        frozen._die_with_bootloader()


def test_same_executable_compares_the_running_files() -> None:
    assert frozen._same_executable(os.getpid())
    other = subprocess.Popen(["sleep", "30"])
    try:
        assert wait_for_exec(other.pid, "sleep")
        assert not frozen._same_executable(other.pid)
    finally:
        other.kill()
        other.wait()


def wait_for_exec(pid: int, name: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(os.readlink(f"/proc/{pid}/exe")).name == name:
                return True
        except OSError:
            pass
        time.sleep(0.01)
    return False

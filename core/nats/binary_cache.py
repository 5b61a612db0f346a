"""The nats-server binary of the one-file executable, unpacked once per machine, not per start.

A one-file build unpacks every file it carries at every start, and inflating the 17 MB
nats-server was a tenth of the start-up time. So the build ships it as `nats-server.z` (zlib,
already compressed: the bootloader copies it instead of inflating it) with `nats-server.json`
(version, size, sha256). The first start inflates it into the user's cache dir under a name
that carries its hash; later starts find it there. Where no cache dir is writable (a locked-down
service user), it is inflated into the unpack dir for this run only.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path

from core.nats.errors import NatsConfigError

BLOB = "nats-server.z"
META = "nats-server.json"


def cache_dirs(env: Mapping[str, str], bundle: Path) -> list[Path]:
    """Where a shared copy may live, best first; the bundle (unpack dir) is the last resort.
    CORE_CACHE_DIR, when set, is the only shared place (a service may point it at its state dir)."""
    dirs = []
    if env.get("CORE_CACHE_DIR"):
        dirs.append(Path(env["CORE_CACHE_DIR"]))
    elif env.get("XDG_CACHE_HOME"):
        dirs.append(Path(env["XDG_CACHE_HOME"]) / "core")
    elif env.get("HOME"):
        dirs.append(Path(env["HOME"]) / ".cache" / "core")
    dirs.append(bundle)
    return dirs


def unpacked_binary(bundle: Path, env: Mapping[str, str]) -> Path | None:
    """The executable nats-server for the blob in `bundle`, or None if the build has no blob."""
    blob, meta_file = bundle / BLOB, bundle / META
    if not (blob.is_file() and meta_file.is_file()):
        return None
    meta = json.loads(meta_file.read_text())
    # a folder per build, the file keeps its name: `ps`, `pkill nats-server` and logs see the usual one
    name = f"nats-server-{meta['version']}-{meta['sha256'][:16]}/nats-server"
    dirs = cache_dirs(env, bundle)
    for directory in dirs:
        path = directory / name
        if path.is_file() and path.stat().st_size == meta["size"] and os.access(path, os.X_OK):
            return path
    data = zlib.decompress(blob.read_bytes())
    if len(data) != meta["size"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise NatsConfigError(f"the bundled {BLOB} is damaged (size or sha256 mismatch)")
    for directory in dirs:
        try:
            return _write_executable(directory / name, data)
        except OSError:
            continue
    raise NatsConfigError(f"nowhere to unpack nats-server (tried {', '.join(map(str, dirs))})")


def _write_executable(path: Path, data: bytes) -> Path:
    """Written under a temporary name, then renamed: two cores starting at once never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".nats-server-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

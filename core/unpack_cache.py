"""Big files of the one-file executable, unpacked once per machine instead of at every start.

A one-file build inflates every file it carries into a fresh dir at every start, and most of the
start-up time went there: 17 MB of nats-server, 22 MB of granian's extension module, 12 MB of
cryptography's. The build ships such files as zlib blobs (already compressed: the bootloader
copies them instead of inflating them) plus their size and sha256. The first start inflates
each into the user's cache dir under a folder named by its hash; later starts find it there.
Where no cache dir is writable (a locked-down service user), the file is inflated into the
unpack dir for this run only. Stdlib only: the frozen runtime hook uses it before any import.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path


class UnpackError(Exception):
    pass


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


def unpacked(bundle: Path, env: Mapping[str, str], blob: str, entry: Mapping[str, object]) -> Path:
    """The file that `bundle/blob` inflates to, as `<cache>/<folder>/<entry["file"]>`.

    `entry` holds `file` (the name to give it: processes and loaders see that name), `size`,
    `sha256`, and `folder` (unique per build of that file, e.g. name-version-hash).
    """
    name = Path(str(entry["folder"])) / str(entry["file"])
    size = int(str(entry["size"]))
    dirs = cache_dirs(env, bundle)
    for directory in dirs:
        path = directory / name
        if path.is_file() and path.stat().st_size == size:
            return path
    data = zlib.decompress((bundle / blob).read_bytes())
    if len(data) != size or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise UnpackError(f"the bundled {blob} is damaged (size or sha256 mismatch)")
    for directory in dirs:
        try:
            return _write(directory / name, data)
        except OSError:
            continue
    raise UnpackError(f"nowhere to unpack {blob} (tried {', '.join(map(str, dirs))})")


def _write(path: Path, data: bytes) -> Path:
    """Written under a temporary name, then renamed: two cores starting at once never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".unpack-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

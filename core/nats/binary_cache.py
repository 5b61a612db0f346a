"""The nats-server binary of the one-file executable, unpacked once per machine, not per start.

The build ships it as `nats-server.z` with `nats-server.json` (version, size, sha256); see
core/unpack_cache.py. The unpacked file keeps the name `nats-server` (in a folder per build), so
`ps`, `pkill nats-server` and the logs see the usual name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from core.nats.errors import NatsConfigError
from core.unpack_cache import UnpackError, unpacked

BLOB = "nats-server.z"
META = "nats-server.json"


def unpacked_binary(bundle: Path, env: Mapping[str, str]) -> Path | None:
    """The executable nats-server for the blob in `bundle`, or None if the build has no blob."""
    blob, meta_file = bundle / BLOB, bundle / META
    if not (blob.is_file() and meta_file.is_file()):
        return None
    meta = json.loads(meta_file.read_text())
    entry = {**meta, "file": "nats-server", "folder": f"nats-server-{meta['version']}-{meta['sha256'][:16]}"}
    try:
        return unpacked(bundle, env, BLOB, entry)
    except UnpackError as exc:
        raise NatsConfigError(str(exc)) from None

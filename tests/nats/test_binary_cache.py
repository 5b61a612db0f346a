"""The one-file build's nats-server: unpacked once into a cache, reused, checked, with fall-backs."""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path

import pytest

from core.nats.binary_cache import BLOB, META, unpacked_binary
from core.nats.errors import NatsConfigError

PAYLOAD = b"#!/bin/sh\necho nats-server: v9.9.9\n"


def _bundle(tmp_path: Path, payload: bytes = PAYLOAD, sha: str | None = None) -> Path:
    bundle = tmp_path / "_MEI123"
    bundle.mkdir()
    (bundle / BLOB).write_bytes(zlib.compress(payload))
    meta = {"version": "9.9.9", "size": len(payload), "sha256": sha or hashlib.sha256(payload).hexdigest()}
    (bundle / META).write_text(json.dumps(meta))
    return bundle


def test_unpacked_once_into_the_cache_then_reused(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    env = {"HOME": str(tmp_path / "home")}
    first = unpacked_binary(bundle, env)
    assert first is not None and first.name == "nats-server"
    assert first.parent.parent == tmp_path / "home" / ".cache" / "core"
    assert first.read_bytes() == PAYLOAD and os.access(first, os.X_OK)
    (bundle / BLOB).write_bytes(b"not even zlib")  # a second start never reads the blob again
    assert unpacked_binary(bundle, env) == first


def test_cache_dir_settings_and_the_unpack_dir_as_last_resort(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    found = unpacked_binary(bundle, {"CORE_CACHE_DIR": str(tmp_path / "c"), "HOME": str(tmp_path / "h")})
    assert found is not None and found.is_relative_to(tmp_path / "c")
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")  # mkdir under a file fails: the next place is tried
    found = unpacked_binary(bundle, {"XDG_CACHE_HOME": str(blocked)})
    assert found is not None and found.is_relative_to(bundle)


def test_a_damaged_blob_is_refused(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, sha="0" * 64)
    with pytest.raises(NatsConfigError, match="damaged"):
        unpacked_binary(bundle, {"HOME": str(tmp_path / "home")})


def test_builds_without_a_blob_use_the_plain_binary(tmp_path: Path) -> None:
    assert unpacked_binary(tmp_path, {"HOME": str(tmp_path)}) is None

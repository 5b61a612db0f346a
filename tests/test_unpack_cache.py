"""Big files of the one-file build unpacked once per machine: the cache and the import finder."""

from __future__ import annotations

import hashlib
import importlib.machinery
import zlib
from pathlib import Path

import pytest

from core.frozen import _CachedExtensions
from core.unpack_cache import UnpackError, unpacked

PAYLOAD = b"\x7fELF pretend" * 100


def _entry(bundle: Path, name: str, payload: bytes = PAYLOAD) -> dict[str, object]:
    bundle.mkdir(exist_ok=True)
    (bundle / f"{name}.z").write_bytes(zlib.compress(payload))
    digest = hashlib.sha256(payload).hexdigest()
    return {
        "blob": f"{name}.z",
        "file": name,
        "folder": f"{name}-{digest[:16]}",
        "size": len(payload),
        "sha256": digest,
    }


def test_inflated_once_then_found(tmp_path: Path) -> None:
    bundle = tmp_path / "_MEI1"
    entry = _entry(bundle, "thing.so")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    path = unpacked(bundle, env, "thing.so.z", entry)
    assert path.parent.parent == tmp_path / "xdg" / "core" and path.read_bytes() == PAYLOAD
    (bundle / "thing.so.z").write_bytes(b"gone")  # a later start never reads the blob
    assert unpacked(bundle, env, "thing.so.z", entry) == path


def test_damaged_blobs_and_nowhere_to_write(tmp_path: Path) -> None:
    bundle = tmp_path / "_MEI2"
    entry = {**_entry(bundle, "x.so"), "sha256": "0" * 64}
    with pytest.raises(UnpackError, match="damaged"):
        unpacked(bundle, {}, "x.so.z", entry)


def test_the_finder_loads_extension_modules_from_the_cache(tmp_path: Path) -> None:
    """A real extension module (the stdlib's _lsprof), shipped as a blob, found in the cache."""
    source = Path(importlib.machinery.PathFinder.find_spec("_lsprof").origin)  # type: ignore[union-attr,arg-type]
    bundle = tmp_path / "_MEI3"
    entry = _entry(bundle, source.name, source.read_bytes())
    finder = _CachedExtensions(bundle, {"_lsprof": entry}, {"CORE_CACHE_DIR": str(tmp_path / "c")})
    spec = finder.find_spec("_lsprof")
    assert isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    assert Path(spec.origin).is_relative_to(tmp_path / "c")
    assert Path(spec.origin).read_bytes() == source.read_bytes()
    assert finder.find_spec("json") is None  # everything else is left to the other finders

"""Where the UI's assets live: `assets/` of the checkout, or inside the PyInstaller bundle.

From source the directory sits beside the `core` package (`core/../assets`); in the frozen
executable spec/core.spec copies it to `sys._MEIPASS/assets`. `core.frozen.bundled_path` knows
both places, so there is one rule for every bundled file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from core.frozen import bundled_path

ASSETS = "assets"


class AssetsMissing(RuntimeError):
    """The build or checkout lacks assets/: the pages cannot be rendered."""


@cache
def assets_dir() -> Path:
    path = bundled_path(ASSETS)
    if not (path / "templates").is_dir():
        raise AssetsMissing(f"UI assets not found at {path} (expected {path / 'templates'})")
    return path


def templates_dir() -> Path:
    return assets_dir() / "templates"


def static_files() -> dict[str, Path]:
    """The files served under /ds/static/, by public name (our stylesheet and the vendored bundle)."""
    root = assets_dir()
    files = [p for sub in ("static", "vendor") for p in sorted((root / sub).glob("*")) if p.is_file()]
    return {p.name: p for p in files}

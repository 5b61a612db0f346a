"""Per-server start options shared by the benchmarks."""

from __future__ import annotations

import argparse
from typing import Any


def target_options(target: str, args: argparse.Namespace) -> dict[str, Any]:
    """core with `--core-workers N` runs `core serve --workers N`; PocketBase takes no options."""
    workers = str(getattr(args, "core_workers", "1") or "1")
    if target == "core" and workers != "1":
        return {"extra_args": ["--workers", workers]}
    return {}

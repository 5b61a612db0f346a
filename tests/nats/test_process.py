"""Finding the nats-server binary, and keeping secrets out of its forwarded log."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from core.nats import process
from core.nats.errors import NatsConfigError


def fake_binary(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / process.BINARY
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_env_override_wins(tmp_path: Path) -> None:
    path = fake_binary(tmp_path)
    assert process.find_binary({"CORE_NATS_SERVER_BIN": str(path)}) == path
    with pytest.raises(NatsConfigError, match="^CORE_NATS_SERVER_BIN: .* is not an executable file"):
        process.find_binary({"CORE_NATS_SERVER_BIN": str(tmp_path / "missing")})


def test_frozen_bundle_comes_before_the_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = fake_binary(tmp_path / "_MEI123")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundled.parent), raising=False)
    assert process.find_binary({}) == bundled


def test_venv_copy_is_found() -> None:
    found = process.find_binary({})
    assert found.name == process.BINARY and os.access(found, os.X_OK)


def test_secrets_are_redacted_from_server_lines() -> None:
    seed = "SUAM" + "A" * 54
    line = f"connect nats://core-route:s3cr3t@10.0.0.1:4244 jwt eyJhbGc.eyJzdWIi.c2ln seed {seed}"
    clean = process.redact(line)
    assert "s3cr3t" not in clean and "eyJzdWIi" not in clean and seed not in clean
    assert "core-route:***@10.0.0.1:4244" in clean
    # public keys stay readable: they are what an operator needs to see
    pub = "A" + "B" * 55
    assert process.redact(f"account {pub}") == f"account {pub}"

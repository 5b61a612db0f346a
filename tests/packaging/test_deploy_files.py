"""The deployment files: Fly.io configs parse and agree with each other and with core; the systemd
unit passes `systemd-analyze verify` and keeps its hardening."""

from __future__ import annotations

import argparse
import configparser
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from core.nats import settings as nats_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
FLY = REPO_ROOT / "build" / "fly"
SYSTEMD = REPO_ROOT / "build" / "systemd"
HUB_REGION = "iad"
LEAF_REGIONS = ("lhr", "nrt")
HUB_AND_SPOKE = {region: FLY / f"fly.{region}.toml" for region in (HUB_REGION, *LEAF_REGIONS)}
MESH = FLY / "fly.mesh.toml"
SECRETS = ("CORE_NATS_AUTH", "CORE_POCKETBASE_ADMIN_PASSWORD", "CORE_POCKETBASE_ADMIN_EMAIL")


def load(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def dockerfile_cmd() -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", (FLY / "Dockerfile").read_text(), re.MULTILINE)
    assert match, "Dockerfile has no exec-form CMD"
    return list(tomllib.loads(f"cmd = {match.group(1)}")["cmd"])


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.mark.parametrize("path", [*HUB_AND_SPOKE.values(), MESH], ids=lambda p: p.name)
def test_fly_config_essentials(path: Path) -> None:
    config = load(path)
    cmd = dockerfile_cmd()
    assert config["app"]
    # Fly sets PRIMARY_REGION from this; in hub and spoke it is what makes iad the hub.
    assert config["primary_region"] == HUB_REGION
    assert config["kill_signal"] == "SIGTERM"

    mounts = config["mounts"]
    assert len(mounts) == 1 and mounts[0]["source"]
    assert mounts[0]["destination"] == flag(cmd, "--dir"), "the volume must hold core's data dir"
    assert Path(mounts[0]["destination"]).name == ".data"

    service = config["http_service"]
    assert service["internal_port"] == int(flag(cmd, "--http").rsplit(":", 1)[1])
    assert service["auto_stop_machines"] in ("off", False), "a stopped machine leaves the NATS cluster"
    checks = service["checks"]
    assert checks and all(c["path"] == "/api/health" and c.get("method", "GET") == "GET" for c in checks)

    env = config["env"]
    for secret in SECRETS:
        assert secret not in env, f"{secret} is a secret: `fly secrets set`, never fly.toml"
    # Every variable is one core reads, with a value core's own parser accepts.
    parsed = nats_settings.from_args(argparse.Namespace(), env)
    assert parsed.topology == "fly"
    assert parsed.hub_and_spoke is (path != MESH)


def test_hub_and_spoke_files_differ_only_in_size() -> None:
    def shape(path: Path) -> dict[str, Any]:
        config = load(path)
        config.pop("vm")
        for mount in config["mounts"]:
            mount.pop("initial_size", None)
        return config

    hub = shape(HUB_AND_SPOKE[HUB_REGION])
    assert hub["env"]["NATS_PILLOW_HUB_AND_SPOKE"] == "true"
    for region in LEAF_REGIONS:
        assert shape(HUB_AND_SPOKE[region]) == hub, f"fly.{region}.toml drifted from fly.{HUB_REGION}.toml"


def test_fly_readme_deploys_each_region_on_its_own() -> None:
    readme = (FLY / "README.md").read_text()
    for region, path in HUB_AND_SPOKE.items():
        assert f"--config build/fly/{path.name} --only-regions {region}" in readme
    assert "build/fly/fly.mesh.toml" in readme
    assert "CORE_NATS_AUTH" in readme and "fly secrets set" in readme


def test_dockerfile_ships_the_prebuilt_executable() -> None:
    text = (FLY / "Dockerfile").read_text()
    assert re.search(r"^COPY dist/core /usr/local/bin/core$", text, re.MULTILINE)
    assert "pip" not in text.lower(), "nothing is installed from PyPI at deploy time"
    assert dockerfile_cmd()[:2] == ["/usr/local/bin/core", "serve"]
    ignore = [
        line for line in (FLY / "Dockerfile.dockerignore").read_text().splitlines() if line and line[0] != "#"
    ]
    assert ignore == ["*", "!dist/core"], "the build context is the repo root: send the executable only"


def unit() -> configparser.ConfigParser:
    # strict=False: systemd allows a key more than once (SystemCallFilter=), the last wins here.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(SYSTEMD / "core.service")
    return parser


def test_systemd_unit_hardening() -> None:
    service = unit()["Service"]
    expected = {
        "ExecStart": "/usr/local/bin/core serve --http 0.0.0.0:8090 --dir /var/lib/core",
        "User": "core",
        "StateDirectory": "core",
        "WorkingDirectory": "/var/lib/core",
        "EnvironmentFile": "-/etc/core/core.env",
        "Restart": "on-failure",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "KillMode": "mixed",
    }
    for key, value in expected.items():
        assert service.get(key) == value, key


def test_systemd_env_example_uses_real_settings() -> None:
    pairs = re.findall(
        r"^#?([A-Z][A-Z0-9_]+)=(.*)$", (SYSTEMD / "core.env.example").read_text(), re.MULTILINE
    )
    assert pairs
    sources = "\n".join(p.read_text() for p in (REPO_ROOT / "core").rglob("*.py"))
    for key, _ in pairs:
        assert f'"{key}"' in sources, f"{key} is not read anywhere in core/"
    nats_vars = {opt.env for opt in nats_settings.OPTIONS}
    env = {key: value.split("#")[0].strip() for key, value in pairs if key in nats_vars}
    nats_settings.from_args(argparse.Namespace(), env)  # raises on a value core would refuse


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (Debian: apt-get install systemd)")
    # verify insists that ExecStart's binary exists; everything else is checked as written.
    text = (SYSTEMD / "core.service").read_text()
    assert "ExecStart=/usr/local/bin/core " in text
    copy = tmp_path / "core.service"
    core = tmp_path / "core"
    core.write_text("#!/bin/sh\n")
    core.chmod(0o755)
    copy.write_text(text.replace("ExecStart=/usr/local/bin/core ", f"ExecStart={core} "))
    proc = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60
    )
    # verify exits 0 even for unknown keys or bad values; it only warns, so warnings fail here.
    assert proc.returncode == 0 and not proc.stderr.strip() and not proc.stdout.strip(), (
        proc.stdout + proc.stderr
    )


@pytest.mark.parametrize("readme", [FLY / "README.md", SYSTEMD / "README.md"], ids=lambda p: p.parent.name)
def test_readmes_say_only_nats_is_clustered(readme: Path) -> None:
    """Without `--ha`, a multi-node deployment must not look like a replicated database."""
    text = " ".join(line.lstrip("> ") for line in readme.read_text().splitlines()).split()
    text = " ".join(text)
    assert "Without `--ha`, each node keeps its own database; only NATS is clustered." in text

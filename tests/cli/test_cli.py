"""The `core` command as a user runs it: subprocesses, real data dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core.config import parse_workers
from tests.servers import REPO_ROOT, ServerProcess, free_port

NATS_ARGS = [
    "--nats-port",
    str(free_port()),
    "--nats-leaf-port",
    str(free_port()),
    "--nats-monitor-port",
    "0",
]


def core(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    for key in ("CORE_POCKETBASE_ADMIN_EMAIL", "CORE_POCKETBASE_ADMIN_PASSWORD"):
        if env is None or key not in env:
            full_env.pop(key, None)
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version(tmp_path: Path) -> None:
    out = core("version", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("core ")
    assert "nats-server 2." in out.stdout
    assert "SQLite 3." in out.stdout


def test_superuser_lifecycle_then_login(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert (
        core(
            "superuser", "create", "root@example.com", "first-password", "--dir", data, cwd=tmp_path
        ).returncode
        == 0
    )
    again = core("superuser", "create", "root@example.com", "x-password", "--dir", data, cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
    short = core("superuser", "upsert", "other@example.com", "short", "--dir", data, cwd=tmp_path)
    assert short.returncode == 1 and "password" in short.stderr and "Traceback" not in short.stderr
    assert (
        core(
            "superuser", "update", "root@example.com", "second-password", "--dir", data, cwd=tmp_path
        ).returncode
        == 0
    )
    missing = core("superuser", "update", "nobody@example.com", "whatever-pass", "--dir", data, cwd=tmp_path)
    assert missing.returncode == 1 and "does not exist" in missing.stderr

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORE_POCKETBASE_ADMIN")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    argv = [sys.executable, "-m", "core", "serve", "--http", f"127.0.0.1:{port}", "--dir", data, *NATS_ARGS]
    with ServerProcess("core", argv, tmp_path / "data", port, env=env, cwd=tmp_path).start() as server:
        ok = httpx.post(
            f"{server.url}/api/collections/_superusers/auth-with-password",
            json={"identity": "root@example.com", "password": "second-password"},
        )
        assert ok.status_code == 200
        old = httpx.post(
            f"{server.url}/api/collections/_superusers/auth-with-password",
            json={"identity": "root@example.com", "password": "first-password"},
        )
        assert old.status_code == 400
    # as PocketBase's CLI: the only superuser is never deleted
    refused = core("superuser", "delete", "root@example.com", "--dir", data, cwd=tmp_path)
    assert refused.returncode == 1 and "only existing superuser" in refused.stderr
    assert (
        core(
            "superuser", "create", "two@example.com", "second-password", "--dir", data, cwd=tmp_path
        ).returncode
        == 0
    )
    assert core("superuser", "delete", "root@example.com", "--dir", data, cwd=tmp_path).returncode == 0


def test_serve_without_superuser_prints_hint_and_env_file_is_read(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORE_POCKETBASE_ADMIN")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    argv = [
        sys.executable,
        "-m",
        "core",
        "serve",
        *NATS_ARGS,
        "--http",
        f"127.0.0.1:{port}",
        "--dir",
        str(tmp_path / "d1"),
    ]
    with ServerProcess("core", argv, tmp_path / "d1", port, env=env, cwd=tmp_path).start() as server:
        assert httpx.get(f"{server.url}/api/health").status_code == 200
    log = (tmp_path / "d1" / "server.log").read_text()
    assert "core superuser upsert EMAIL PASSWORD" in log

    # a .env in the working directory bootstraps the superuser
    (tmp_path / ".env").write_text(
        "CORE_POCKETBASE_ADMIN_EMAIL=envadmin@example.com\nCORE_POCKETBASE_ADMIN_PASSWORD=from-dot-env-123\n"
    )
    argv[-1] = str(tmp_path / "d2")
    with ServerProcess("core", argv, tmp_path / "d2", port, env=env, cwd=tmp_path).start() as server:
        resp = httpx.post(
            f"{server.url}/api/collections/_superusers/auth-with-password",
            json={"identity": "envadmin@example.com", "password": "from-dot-env-123"},
        )
        assert resp.status_code == 200
    assert "from-dot-env-123" not in (tmp_path / "d2" / "server.log").read_text()


def test_bad_flag_value_is_one_clear_line(tmp_path: Path) -> None:
    out = core("serve", "--http", "127.0.0.1:notaport", "--dir", str(tmp_path / "d"), cwd=tmp_path)
    assert out.returncode == 2
    assert "--http" in out.stderr and "Traceback" not in out.stderr
    nats = core("serve", "--nats-port", "99999", "--dir", str(tmp_path / "d"), cwd=tmp_path)
    assert nats.returncode == 2
    assert "--nats-port" in nats.stderr and "Traceback" not in nats.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--workers", "0"], {}, "--workers: 0 out of range (1-64)"),
        (["--workers", "many"], {}, "--workers: invalid value 'many' (expected a number or auto)"),
        ([], {"CORE_WORKERS": "-3"}, "--workers: -3 out of range (1-64)"),
        (["--workers", "2", "--no-nats"], {}, "--workers: more than one worker needs NATS"),
        (
            ["--workers", "2", "--server", "uvicorn"],
            {},
            "--workers: more than one worker needs --server granian",
        ),
    ],
)
def test_bad_workers_setting_is_one_clear_line(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    out = core("serve", "--dir", str(tmp_path / "d"), *args, *NATS_ARGS, cwd=tmp_path, env=env)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


def test_parse_workers() -> None:
    assert parse_workers("3") == 3
    assert parse_workers(" AUTO ") == len(os.sched_getaffinity(0))

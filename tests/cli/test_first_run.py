"""First-run mistakes and the data dir: one clear line on stderr (exit 2), never a traceback."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core.config import ConfigError, parse_http, parse_origins
from tests.cli.test_cli import NATS_ARGS, core
from tests.servers import REPO_ROOT, ServerProcess, free_port


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8090", ("127.0.0.1", 8090)),
        ("localhost:8091", ("localhost", 8091)),
        ("localhost", ("localhost", 8090)),
        ("8092", ("127.0.0.1", 8092)),
        (":8093", ("", 8093)),
        ("[::1]:8094", ("::1", 8094)),
        ("[::1]", ("::1", 8090)),
        ("::1", ("::1", 8090)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
    ],
)
def test_parse_http_forms(value: str, expected: tuple[str, int]) -> None:
    assert parse_http(value) == expected


@pytest.mark.parametrize("value", ["127.0.0.1:notaport", "localhost:70000", "[::1]x"])
def test_parse_http_rejects(value: str) -> None:
    with pytest.raises(ConfigError, match="--http"):
        parse_http(value)


def test_parse_origins() -> None:
    assert parse_origins("") == ["*"]
    assert parse_origins(" https://a.test, https://*.b.test ,") == ["https://a.test", "https://*.b.test"]


def _serve_argv(http: str, data: Path, nats_args: list[str] = NATS_ARGS) -> list[str]:
    return [sys.executable, "-m", "core", "serve", "--http", http, "--dir", str(data), *nats_args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORE_POCKETBASE_ADMIN")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


@pytest.mark.parametrize(
    ("http", "banner"),
    [
        ("localhost:{port}", "Server started at http://localhost:{port}"),
        (":{port}", "Server started at http://0.0.0.0:{port}"),
    ],
)
def test_serve_resolves_host_names_and_listens_everywhere(tmp_path: Path, http: str, banner: str) -> None:
    port = free_port()
    argv = _serve_argv(http.format(port=port), tmp_path / "d")
    with ServerProcess("core", argv, tmp_path / "d", port, env=_env(), cwd=tmp_path).start() as server:
        assert httpx.get(f"{server.url}/api/health").status_code == 200
    log = (tmp_path / "d" / "server.log").read_text()
    assert banner.format(port=port) in log
    assert "Traceback" not in log
    # granian's "Embedded server is experimental!" is filtered out (see core/server.py)
    assert "experimental" not in log


def test_ipv6_banner_has_brackets(tmp_path: Path) -> None:
    port = free_port()
    argv = _serve_argv(f"[::1]:{port}", tmp_path / "d")
    server = ServerProcess("core", argv, tmp_path / "d", port, env=_env(), cwd=tmp_path)
    server.url = f"http://[::1]:{port}"
    try:
        with server.start():
            pass
    except OSError as exc:  # pragma: no cover - a machine without IPv6
        pytest.skip(f"no IPv6 loopback: {exc}")
    assert f"Server started at http://[::1]:{port}" in (tmp_path / "d" / "server.log").read_text()


def test_unresolvable_host_is_one_line(tmp_path: Path) -> None:
    out = core("serve", "--http", "no-such-host.invalid:8090", "--dir", str(tmp_path / "d"), cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("Error: --http: cannot resolve host 'no-such-host.invalid'")
    assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1


def test_second_server_on_a_held_data_dir_is_refused_before_touching_anything(tmp_path: Path) -> None:
    data = tmp_path / "d"
    port = free_port()
    env = _env()
    with ServerProcess(
        "core", _serve_argv(f"127.0.0.1:{port}", data), data, port, env=env, cwd=tmp_path
    ).start():
        conf = next(data.glob("nats/*.conf"))
        before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (conf, data / "pocketbase" / "data.db")}
        second = subprocess.run(
            _serve_argv(f"127.0.0.1:{free_port()}", data, _other_nats_ports()),
            env={
                **env,
                "CORE_POCKETBASE_ADMIN_EMAIL": "x@example.com",
                "CORE_POCKETBASE_ADMIN_PASSWORD": "x" * 12,
            },
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip() == (
            f"Error: --dir: a server is already running on {data}; stop it first or choose another --dir"
        )
        assert "Server started" not in second.stdout
        after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in before}
        assert after == before


def _other_nats_ports() -> list[str]:
    return ["--nats-port", str(free_port()), "--nats-leaf-port", str(free_port()), "--nats-monitor-port", "0"]


def test_data_dir_inside_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for command in (["serve"], ["superuser", "upsert", "a@example.com", "long-password-1"]):
        out = core(*command, "--dir", str(tmp_path / "file" / "d"), cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith(f"Error: --dir: cannot use data dir {tmp_path / 'file' / 'd'}: ")
        assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1


# root without the capabilities that bypass file permissions: what any other user meets
_NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_data_dir_without_permission_is_one_line(tmp_path: Path) -> None:
    """A dir that belongs to another user: it exists but is not writable, or a missing dir
    cannot be created inside it."""
    locked = tmp_path / "someone-elses"
    locked.mkdir(mode=0o700)
    os.chown(locked, 65534, 65534)
    for target in (locked, locked / "sub"):
        out = subprocess.run(
            [*_NO_DAC, sys.executable, "-m", "core", "serve", "--dir", str(target), *NATS_ARGS],
            env=_env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith(f"Error: --dir: cannot use data dir {target}: Permission denied")
        assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1


def test_data_dir_and_databases_are_private_whatever_the_umask(tmp_path: Path) -> None:
    data = tmp_path / "d"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "superuser",
            "upsert",
            "a@example.com",
            "long-password-1",
            "--dir",
            str(data),
        ],
        env=_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.umask(0),
    )
    assert out.returncode == 0, out.stderr
    modes = {p.relative_to(data).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [data, *data.rglob("*")]}
    assert modes["."] == 0o700
    assert modes["pocketbase"] == 0o700
    assert modes["pocketbase/data.db"] == 0o600
    assert modes["pocketbase/auxiliary.db"] == 0o600
    # SQLite gives its journals the database's mode
    assert all(mode == 0o600 for name, mode in modes.items() if name.startswith("pocketbase/data.db-"))

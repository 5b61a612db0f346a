"""`core serve --workers N`: N processes serving one data dir on one port.

One Python process runs its request handlers on one core at a time; PocketBase uses every core.
With `--workers N` the process started by the user (the leader, worker 0) starts N-1 more
(followers) once it is serving. Each is a complete `core serve` with its own event loop,
SQLite connections and SSE clients, listening on the same port through SO_REUSEPORT, so the
kernel spreads the connections. What they must agree on travels between them:

- writes: SQLite's file locks, plus one writer lock per database (core/store/shared.py);
- cached collections, settings and auth records: the shared epochs (core/store/cache_sync.py);
- realtime events, subscriptions made on another worker, OAuth2 popups: the NATS server the
  leader runs (followers connect to it as clients);
- a backup restore: every worker pauses while the files are swapped (core/lifecycle.py).

Only the leader runs nats-server, the cron schedule and the superuser bootstrap. A follower
dies with the leader (PR_SET_PDEATHSIG) and the leader starts again a follower that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from core.config import ConfigError, Settings
from core.lifecycle import GateBusy
from core.nats.client import subscriptions_settled
from core.tasks import cancel_all

log = logging.getLogger("core.workers")

WORKER_ENV = "CORE_WORKER"
_PR_SET_PDEATHSIG = 1
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
STOP_TIMEOUT = 15.0


def check_port_free(host: str, port: int) -> None:
    """Fail like PocketBase when the address is taken: granian binds with SO_REUSEPORT, which
    would otherwise let a second `core serve` share the port of a running one, silently."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"--http: {host}:{port} is already in use") from None
            raise ConfigError(f"--http: cannot listen on {host}:{port}: {exc.strerror}") from None


def check_workers(settings: Settings, nats_enabled: bool) -> None:
    if settings.workers == 1:
        return
    if not nats_enabled:
        raise ConfigError("--workers: more than one worker needs NATS (drop --no-nats)")
    if settings.server != "granian":
        raise ConfigError("--workers: more than one worker needs --server granian")
    if settings.http_port == 0:
        raise ConfigError("--workers: more than one worker needs a fixed --http port")


def self_command() -> list[str]:
    """How to start this program again (the one-file executable, or `python -m core`)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "core"]


def follower_argv(settings: Settings, nats_url: str, nats_creds: Path | None) -> list[str]:
    argv = [
        *self_command(),
        "serve",
        "--http",
        f"[{settings.http_host}]:{settings.http_port}"
        if ":" in settings.http_host
        else f"{settings.http_host}:{settings.http_port}",
        "--dir",
        str(settings.data_dir),
        "--nats-url",
        nats_url,
        "--workers",
        str(settings.workers),
    ]
    if nats_creds is not None:
        argv += ["--nats-creds", str(nats_creds)]
    if settings.dev:
        argv.append("--dev")
    return argv


def _die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        # SIGTERM, not SIGKILL: a follower left alone still finishes its requests and closes
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return preexec


class Followers:
    """The leader's workers 1..N-1: started once it serves, restarted when one dies."""

    def __init__(self, count: int, argv: list[str], env: dict[str, str]) -> None:
        self.count = count
        self.argv = argv
        self.env = env
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def start(self) -> None:
        for index in range(1, self.count):
            self._tasks.append(asyncio.create_task(self._keep(index), name=f"worker {index}"))

    async def _keep(self, index: int) -> None:
        failures = 0
        while not self._stopping:
            env = {**self.env, WORKER_ENV: str(index)}
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self.argv, env=env, stdin=asyncio.subprocess.DEVNULL, preexec_fn=_die_with_parent()
                )
            except OSError as exc:
                log.error("worker %d could not start: %s", index, exc)
                code = -1
            else:
                self.procs[index] = proc
                code = await proc.wait()
                self.procs.pop(index, None)
            if self._stopping:
                return
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            failures += 1
            log.warning("worker %d exited with code %s; starting it again in %.0f s", index, code, delay)
            await asyncio.sleep(delay)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    async def stop(self) -> None:
        self._stopping = True
        procs = list(self.procs.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        await cancel_all(self._tasks)
        self._tasks.clear()


GROUP_ENV = "CORE_WORKER_GROUP"
PAUSE_GRACE = 5.0  # beyond the drain timeout, for the pause messages themselves
RESUME_TIMEOUT = 300.0  # a worker left paused by a restorer that died reopens on its own
EPOCH_POLL = 0.25  # seconds between checks of the shared epochs while no request comes


def new_group_id() -> str:
    return secrets.token_hex(8)


class Peers:
    """The other workers of this `core serve`, reached over NATS to pause them around a restore.

    Subjects carry a group id the leader makes up at start, so the workers of another
    `core serve` on the same NATS (a cluster) are never involved.
    """

    def __init__(self, nc: Any, group: str, count: int, lifecycle: Any) -> None:
        self.nc = nc
        self.group = group
        self.count = count
        self.lifecycle = lifecycle
        self.me = secrets.token_hex(8)
        self._pause = f"core.workers.{group}.pause"
        self._resume = f"core.workers.{group}.resume"
        self._subs: list[Any] = []
        self._resumed: dict[str, asyncio.Event] = {}
        self._holds: set[asyncio.Task[None]] = set()
        self._follower: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._subs = [
            await self.nc.subscribe(self._pause, cb=self._on_pause),
            await self.nc.subscribe(self._resume, cb=self._on_resume),
        ]
        await subscriptions_settled(self.nc)
        self._follower = asyncio.create_task(self._follow_epochs(), name="worker epochs")

    async def _follow_epochs(self) -> None:
        """Catch up with the other workers' commits between requests too: an idle worker's
        open UI tabs and realtime clients then learn of a changed auth record within a poll."""
        sync = self.lifecycle.app.store.sync
        while True:
            await asyncio.sleep(EPOCH_POLL)
            if sync.stale():
                try:
                    await sync.catch_up()
                except Exception:  # the store is closed for a restore, say: try again later
                    log.debug("catching up with the other workers failed", exc_info=True)

    async def stop(self) -> None:
        await cancel_all([self._follower])
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs = []
        for event in self._resumed.values():
            event.set()

    @contextlib.asynccontextmanager
    async def paused(self, timeout: float) -> AsyncIterator[None]:
        """Every other worker has closed its databases inside this block (else GateBusy)."""
        others = self.count - 1
        token = secrets.token_hex(8)
        inbox = self.nc.new_inbox()
        acks: asyncio.Queue[bytes] = asyncio.Queue()

        async def on_ack(msg: Any) -> None:
            acks.put_nowait(msg.data)

        sub = await self.nc.subscribe(inbox, cb=on_ack)
        try:
            await self.nc.publish(self._pause, f"{self.me} {token}".encode(), reply=inbox)
            paused = 0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout + PAUSE_GRACE):
                    while paused < others:
                        await acks.get()
                        paused += 1
            if paused < others:
                raise GateBusy(f"{others - paused} other worker(s) did not pause within {timeout:.0f}s")
            yield
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await self.nc.publish(self._resume, token.encode())
                await self.nc.flush()

    async def _on_pause(self, msg: Any) -> None:
        sender, _, token = msg.data.decode().partition(" ")
        if sender == self.me or not msg.reply:
            return
        resumed = self._resumed[token] = asyncio.Event()

        async def paused() -> None:
            await self.nc.publish(msg.reply, b"paused")
            await self.nc.flush()

        async def hold() -> None:
            try:
                await self.lifecycle.hold(paused, resumed, RESUME_TIMEOUT)
            except Exception:
                log.exception("could not pause for another worker's restore")
            finally:
                self._resumed.pop(token, None)

        # the handler returns at once: NATS delivers the resume to this same subscription task
        task = asyncio.create_task(hold(), name="worker pause")
        self._holds.add(task)
        task.add_done_callback(self._holds.discard)

    async def _on_resume(self, msg: Any) -> None:
        event = self._resumed.get(msg.data.decode())
        if event is not None:
            event.set()

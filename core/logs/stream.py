"""Log streaming: request logs and core's own log lines published to `pb.logs.<node>.<level>`.

Every item has the shape of an `/api/logs` item (id, created, data, message, level), so the
same tools read both; the node is the subject's second token. The `PB_LOGS` stream (limits by
age and bytes) lives in the `app` account: core's own traffic stays in CORE, and an operator
can be given read access with a creds file of the app account (`core logs tail` uses core's).

Publishing never holds up a request: `offer` appends to a bounded queue (any thread), and one
task on the event loop publishes batches with plain (unacknowledged) NATS publishes, which
only fill nats-py's buffer. A full queue drops its oldest item and counts it. Nothing logged
while publishing is published again: this module's own logger is kept out of the handler.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import re
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api

from core.logs.entry import LEVEL_ERROR, LEVEL_INFO, new_id
from core.store.times import now_str
from core.tasks import cancel_all

log = logging.getLogger("core.logs.stream")

STREAM = "PB_LOGS"
SUBJECT_PREFIX = "pb.logs"
LEVEL_DEBUG = -4
LEVEL_WARN = 4
# slog's levels, which PocketBase stores in `_logs.level`
LEVELS = {"debug": LEVEL_DEBUG, "info": LEVEL_INFO, "warn": LEVEL_WARN, "error": LEVEL_ERROR}
QUEUE_LIMIT = 10_000
BATCH = 500
WINDOW = 256
ACK_TIMEOUT = 10.0
DROP_REPORT_INTERVAL = 60.0
_encoder = msgspec.json.Encoder()
Connect = Callable[[], Awaitable[Client]]
_NOT_A_TOKEN = re.compile(r"[^A-Za-z0-9_-]")
_TRANSPORT_LOGGER = "nats"  # nats-py's loggers: nats.aio.client, ...
_SERVER_NAME = re.compile(r'^server_name:\s*"([^"]+)"\s*$', re.MULTILINE)


def level_name(level: int) -> str:
    if level < LEVEL_INFO:
        return "debug"
    if level < LEVEL_WARN:
        return "info"
    if level < LEVEL_ERROR:
        return "warn"
    return "error"


def subject_token(name: str) -> str:
    """A node name as one subject token (a dot would split it, a wildcard would match others)."""
    return _NOT_A_TOKEN.sub("_", name) or "_"


def subject(node: str, level: int) -> str:
    return f"{SUBJECT_PREFIX}.{subject_token(node)}.{level_name(level)}"


def python_level(levelno: int) -> int:
    if levelno < logging.INFO:
        return LEVEL_DEBUG
    if levelno < logging.WARNING:
        return LEVEL_INFO
    if levelno < logging.ERROR:
        return LEVEL_WARN
    return LEVEL_ERROR


def item_of_record(record: logging.LogRecord) -> dict[str, Any]:
    """One of core's log lines as an `/api/logs` item (PocketBase puts a logger's attributes in
    `data`; here the logger's name, and the traceback of a logged exception)."""
    data: dict[str, Any] = {"type": "app", "logger": record.name}
    if record.exc_info and record.exc_info[0] is not None:
        data["error"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    return {
        "id": new_id(),
        "created": now_str(),
        "data": data,
        "message": record.getMessage(),
        "level": python_level(record.levelno),
    }


def reader_permissions() -> tuple[list[str], list[str]]:
    """(publish, subscribe) subjects a user needs to read PB_LOGS with an ordered consumer (what
    `core logs tail` makes): stream info, its own consumers, flow control, and reply inboxes."""
    api_prefix = "$JS.API"
    publish = [
        f"{api_prefix}.STREAM.INFO.{STREAM}",
        f"{api_prefix}.CONSUMER.CREATE.{STREAM}",
        f"{api_prefix}.CONSUMER.CREATE.{STREAM}.>",
        f"{api_prefix}.CONSUMER.INFO.{STREAM}.>",
        f"{api_prefix}.CONSUMER.DELETE.{STREAM}.>",
        f"$JS.FC.{STREAM}.>",
    ]
    return publish, ["_INBOX.>", f"{SUBJECT_PREFIX}.>"]


def stream_config(max_age: int, max_bytes: int, replicas: int) -> api.StreamConfig:
    return api.StreamConfig(
        name=STREAM,
        description="core's request and application logs, pb.logs.<node>.<level>",
        subjects=[f"{SUBJECT_PREFIX}.>"],
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        discard=api.DiscardPolicy.OLD,
        num_replicas=replicas,
        max_age=float(max_age),
        max_bytes=max_bytes,
        allow_direct=True,
    )


class _Handler(logging.Handler):
    def __init__(self, stream: LogStream) -> None:
        super().__init__(logging.INFO)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        # what the publisher, or the client it publishes with, says must not feed the publisher:
        # a failing publish that logs would otherwise queue a log for each failure, for ever
        if record.name == log.name or record.name.startswith(_TRANSPORT_LOGGER) or self.stream.publishing():
            return
        try:
            self.stream.offer(item_of_record(record))
        except Exception:  # noqa: BLE001 - a log line must never raise into its caller
            self.handleError(record)


class LogStream:
    """The publisher of one process: started once NATS is up, stopped before it closes."""

    def __init__(
        self, node: str, *, max_age: int, max_bytes: int, replicas: int = 1, manage: bool = True
    ) -> None:
        self.node = node
        self.config = stream_config(max_age, max_bytes, replicas)
        # only the process that runs nats-server (the leader of --workers) sets the stream's
        # limits: followers are started without those flags and would reset them
        self.manage = manage
        self.dropped = 0
        self._dropped_reported = 0
        self._reported_at = 0.0
        self.published = 0
        self._queue: collections.deque[tuple[str, bytes]] = collections.deque()
        self._queue_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._handler = _Handler(self)
        self._in_publish = False
        self._inbox = ""
        self._window = asyncio.Semaphore(WINDOW)
        self._tokens = itertools.count()
        self._unacked: dict[str, float] = {}  # reply token -> when to give up on its ack

    # -- intake (any thread) ----------------------------------------------------------------
    def offer(self, item: dict[str, Any]) -> None:
        # the key order of an /api/logs item (request entries are built in the table's order)
        shaped = {k: item[k] for k in ("id", "created", "data", "message", "level")}
        entry = (subject(self.node, int(item["level"])), _encoder.encode(shaped))
        with self._queue_lock:
            if len(self._queue) >= QUEUE_LIMIT:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(entry)
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake.set)

    def publishing(self) -> bool:
        """True while this thread is inside a publish call of the publisher."""
        return self._in_publish and threading.get_ident() == self._loop_thread

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, connect: Connect) -> None:
        """`connect`: an awaitable factory of the app-account connection. Returns at once."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        logging.getLogger().addHandler(self._handler)
        self._tasks.append(asyncio.ensure_future(self._run(connect)))

    def _report_drops(self) -> None:
        """One line a minute at most while logs are being dropped (this logger is not published)."""
        now = time.monotonic()
        if self.dropped > self._dropped_reported and now - self._reported_at >= DROP_REPORT_INTERVAL:
            log.warning(
                "log streaming dropped %d log(s) so far (queue full or NATS unavailable)", self.dropped
            )
            self._dropped_reported, self._reported_at = self.dropped, now

    async def stop(self, grace: float = 2.0) -> None:
        """Publish what is queued (for up to `grace` seconds: the last lines before a restart are
        the ones an operator looks for), then stop."""
        logging.getLogger().removeHandler(self._handler)
        deadline = time.monotonic() + grace
        while self._inbox and (self._queue or self._unacked) and time.monotonic() < deadline:
            self._wake.set()
            await asyncio.sleep(0.05)
        await cancel_all(self._tasks)
        self._tasks.clear()
        self._loop = None
        if self.dropped:
            log.warning("log streaming dropped %d log(s) (queue full or NATS unavailable)", self.dropped)

    async def _run(self, connect: Connect) -> None:
        nc = await self._setup(connect)
        if nc is None:
            return
        self._inbox = nc.new_inbox()
        await nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        self._tasks.append(asyncio.ensure_future(self._expire_acks()))
        self._wake.set()  # what was logged before NATS was ready
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._publish_queued(nc)

    async def _setup(self, connect: Connect) -> Client | None:
        """Connect and make sure the stream exists; retried until it works (a cluster's
        JetStream may need its meta leader first). The queue keeps the newest logs meanwhile."""
        delay = 0.5
        while True:
            try:
                nc: Client = await connect()
                if self.manage:
                    await ensure_stream(nc, self.config)
                else:
                    await nc.jetstream().stream_info(STREAM)  # the leader creates it
                return nc
            except (nats.errors.Error, TimeoutError, OSError) as exc:
                log.warning("log streaming waits for NATS: %s", exc or type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - e.g. no app account; keep core serving
                log.warning("log streaming is off: %s", exc)
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _publish_queued(self, nc: Client) -> None:
        while True:
            with self._queue_lock:
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            if not batch:
                return
            for index, (subj, data) in enumerate(batch):
                # at most WINDOW logs wait for the stream's ack: the stream sets the pace (with
                # `sync_interval: always` it stores about a thousand a second here) and the
                # bounded queue in front absorbs bursts; plain publishes beyond what it can
                # take were lost without a trace
                await self._window.acquire()
                token = str(next(self._tokens))
                self._unacked[token] = time.monotonic() + ACK_TIMEOUT
                self._in_publish = True
                try:
                    await nc.publish(subj, data, reply=f"{self._inbox}.{token}")
                except nats.errors.Error:
                    # closed, or disconnected with a full reconnect buffer: the rest is lost
                    self._settle(token, stored=False)
                    with self._queue_lock:
                        self.dropped += len(batch) - index - 1
                    self._report_drops()
                    return
                finally:
                    self._in_publish = False
            await asyncio.sleep(0)  # let requests run between batches

    async def _on_ack(self, msg: Msg) -> None:
        # a JetStream ack is {"stream":..,"seq":..}; a refusal carries "error"
        self._settle(msg.subject.rpartition(".")[2], stored=b'"error"' not in msg.data)

    def _settle(self, token: str, *, stored: bool) -> None:
        if self._unacked.pop(token, None) is None:
            return  # expired before its ack came
        self._window.release()
        if stored:
            self.published += 1
        else:
            with self._queue_lock:
                self.dropped += 1

    async def _expire_acks(self) -> None:
        """Logs whose ack never comes (lost with a connection) free their place in the window."""
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            expired = []
            for token, deadline in self._unacked.items():  # in publish order, so deadline order
                if deadline > now:
                    break
                expired.append(token)
            for token in expired:
                self._settle(token, stored=False)
            self._report_drops()


async def ensure_stream(nc: Client, config: api.StreamConfig) -> None:
    """Create PB_LOGS, or bring an existing one to the configured limits (the flags may change
    between restarts; replicas stay as they are: changing them is an operator's decision)."""
    js = nc.jetstream()
    try:
        info = await js.stream_info(STREAM)
    except nats.js.errors.NotFoundError:
        try:
            await js.add_stream(config)
            return
        except nats.js.errors.BadRequestError as exc:
            if "already in use" not in str(exc.description or ""):
                raise
            info = await js.stream_info(STREAM)  # another node created it first
    current = info.config
    if current.max_age != config.max_age or current.max_bytes != config.max_bytes:
        current.max_age, current.max_bytes = config.max_age, config.max_bytes
        await js.update_stream(current)


def node_name(nats_service: Any) -> str:
    """The name of this node's nats-server; a --workers follower reads it from the config its
    leader wrote (it is started without --name)."""
    s = nats_service.settings
    plan = nats_service.plan
    if s.name or plan is not None:
        return str(s.name or plan.server_name)
    config_file = nats_service.config_path
    try:
        match = _SERVER_NAME.search(config_file.read_text(encoding="utf-8"))
    except OSError:
        match = None
    return match.group(1) if match else str(s.hostname)


def start_for(app: Any) -> LogStream | None:
    """Start streaming this process's logs when core runs with NATS and streaming is on."""
    nats_service = app.services.get("nats")
    if nats_service is None or nats_service.settings.logs_max_bytes <= 0:
        return None
    replicas = 3 if nats_service.plan is not None and nats_service.cluster_size() >= 3 else 1
    stream = LogStream(
        node_name(nats_service),
        max_age=nats_service.settings.logs_max_age,
        max_bytes=nats_service.settings.logs_max_bytes,
        replicas=replicas,
        manage=app.settings.worker == 0,
    )
    stream.start(nats_service.app_connection)
    return stream

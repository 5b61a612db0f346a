"""How record events travel from the writer to every process's broker.

`publish` is called on the SQLite writer thread; delivery happens on the broker's event loop,
in publish order. With NATS the events go through the server, so every process connected to it
(this one included) delivers them to its own SSE clients; without it an in-process hop does the
same for this process alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from core.nats.client import subscriptions_settled

log = logging.getLogger("core.realtime")

EVENTS_SUBJECT = "core.realtime.events"
# requests to the process holding one SSE client, wherever it is connected: a frame for it (the
# OAuth2 popup flow) or a new subscription set (POST /api/realtime that reached another worker)
CLIENT_SUBJECT = "core.realtime.client"
# "I have SSE clients": every process with at least one says so this often, so that processes
# whose writes nobody could receive skip deriving and publishing events (most writes, most days)
INTEREST_SUBJECT = "core.realtime.interest"
INTEREST_PERIOD = 2.0
ORIGIN_SIZE = 8  # bytes of the process id prefixed to every event message on NATS

Deliver = Callable[[bytes], None]
# answers a direct message: the reply when this process holds the client, else None (silence)
DirectHandler = Callable[[str, bytes], Awaitable[bytes | None]]


class Bus(Protocol):
    async def start(self, deliver: Deliver, direct: DirectHandler) -> None: ...

    def publish(self, message: bytes) -> None:
        """Thread-safe; messages are delivered in the order they were published."""

    async def send_direct(self, client_id: str, message: bytes) -> bytes | None:
        """Hand a message to the process holding `client_id`: its reply, None when nobody has it."""

    def announce_interest(self) -> None:
        """Tell the other processes that this one has SSE clients (call on the event loop)."""

    def remote_interest(self) -> bool:
        """Whether some process announced SSE clients within the last few periods (thread-safe)."""

    async def stop(self) -> None: ...


class LocalBus:
    """This process only: a hop from the writer thread onto the event loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver, direct: DirectHandler) -> None:
        self._loop = asyncio.get_running_loop()
        self._deliver = deliver

    def publish(self, message: bytes) -> None:
        if self._loop is None or self._deliver is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._deliver, message)

    async def send_direct(self, client_id: str, message: bytes) -> bytes | None:
        return None  # a local client was already tried by the broker

    def announce_interest(self) -> None:
        pass

    def remote_interest(self) -> bool:
        return False

    async def stop(self) -> None:
        self._deliver = None


class NatsBus:
    """Through the NATS server, so that every connected process delivers every event.

    This process's own events go straight to its broker, the way LocalBus does, and to NATS
    only while another process has announced SSE clients: the round trip through the server
    cost every event a millisecond or more of latency, for a copy only this process wanted.
    Messages carry an origin id, so a process skips its own when NATS hands them back.
    """

    def __init__(self, nc: Any, subject: str = EVENTS_SUBJECT, direct_timeout: float = 1.0) -> None:
        self.nc = nc
        self.subject = subject
        self.direct_timeout = direct_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._subs: list[Any] = []
        self._publisher: asyncio.Task[None] | None = None
        self._interest_until = 0.0  # time.monotonic() until which another process has clients
        self._origin = secrets.token_bytes(ORIGIN_SIZE)
        self._deliver: Deliver | None = None
        self._announcements: set[asyncio.Task[None]] = set()

    async def start(self, deliver: Deliver, direct: DirectHandler) -> None:
        self._loop = asyncio.get_running_loop()
        self._deliver = deliver
        origin = self._origin

        async def on_event(msg: Any) -> None:
            data: bytes = msg.data
            if data[:ORIGIN_SIZE] != origin:  # this process delivered its own already
                deliver(data[ORIGIN_SIZE:])

        async def on_direct(msg: Any) -> None:
            client_id = msg.subject.rsplit(".", 1)[-1]
            # only the process holding the client answers; the others stay silent
            reply = await direct(client_id, msg.data)
            if reply is not None and msg.reply:
                await msg.respond(reply)

        self._subs = [
            await self.nc.subscribe(self.subject, cb=on_event),
            await self.nc.subscribe(f"{CLIENT_SUBJECT}.*", cb=on_direct),
            await self.nc.subscribe(INTEREST_SUBJECT, cb=self._on_interest),
        ]
        # the server has the subscriptions before start() returns: a direct message sent right
        # after must not miss this process
        await subscriptions_settled(self.nc)
        self._publisher = asyncio.create_task(self._publish_loop(), name="realtime nats publisher")

    def publish(self, message: bytes) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._route, message)

    def _route(self, message: bytes) -> None:
        if self._deliver is not None:
            self._deliver(message)
        if self.remote_interest():
            self._outbox.put_nowait(self._origin + message)

    async def _publish_loop(self) -> None:
        # one task awaiting each publish keeps the writer's order on the wire
        while True:
            message = await self._outbox.get()
            try:
                await self.nc.publish(self.subject, message)
            except Exception as exc:  # a lost NATS connection must not stop later events
                log.warning("realtime: NATS publish failed: %s", exc)

    async def _on_interest(self, msg: Any) -> None:
        if msg.data == self._origin:
            return  # our own announcement
        # three periods of grace: a late announcement must not switch the events off
        self._interest_until = time.monotonic() + 3 * INTEREST_PERIOD

    def announce_interest(self) -> None:
        task = asyncio.ensure_future(self._announce())
        self._announcements.add(task)
        task.add_done_callback(self._announcements.discard)

    async def _announce(self) -> None:
        try:
            await self.nc.publish(INTEREST_SUBJECT, self._origin)
        except Exception as exc:
            log.warning("realtime: NATS publish failed: %s", exc)

    def remote_interest(self) -> bool:
        """Whether another process announced SSE clients within the grace period."""
        return time.monotonic() < self._interest_until

    async def send_direct(self, client_id: str, message: bytes) -> bytes | None:
        try:
            reply = await self.nc.request(
                f"{CLIENT_SUBJECT}.{client_id}", message, timeout=self.direct_timeout
            )
        except Exception as exc:  # timeout or no responders: nobody holds that client
            log.debug("realtime: no process answered for client %s: %r", client_id, exc)
            return None
        data: bytes = reply.data
        return data

    async def stop(self) -> None:
        if self._publisher is not None:
            # flush what the writer already handed over before leaving
            while not self._outbox.empty():
                with contextlib.suppress(Exception):
                    await self.nc.publish(self.subject, self._outbox.get_nowait())
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
            self._publisher = None
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs = []

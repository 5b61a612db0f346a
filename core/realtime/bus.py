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
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

log = logging.getLogger("core.realtime")

EVENTS_SUBJECT = "core.realtime.events"
# direct messages to one SSE client, wherever it is connected (the OAuth2 popup flow)
CLIENT_SUBJECT = "core.realtime.client"

Deliver = Callable[[bytes], None]
# answers a direct message: True when this process has the client and queued the frame
DirectHandler = Callable[[str, bytes], Awaitable[bool]]


class Bus(Protocol):
    async def start(self, deliver: Deliver, direct: DirectHandler) -> None: ...

    def publish(self, message: bytes) -> None:
        """Thread-safe; messages are delivered in the order they were published."""

    async def send_direct(self, client_id: str, message: bytes) -> bool:
        """Hand a message to the process holding `client_id`; False when nobody has it."""

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

    async def send_direct(self, client_id: str, message: bytes) -> bool:
        return False  # a local client was already tried by the broker

    async def stop(self) -> None:
        self._deliver = None


class NatsBus:
    """Through the NATS server, so that every connected process delivers every event."""

    def __init__(self, nc: Any, subject: str = EVENTS_SUBJECT, direct_timeout: float = 1.0) -> None:
        self.nc = nc
        self.subject = subject
        self.direct_timeout = direct_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._subs: list[Any] = []
        self._publisher: asyncio.Task[None] | None = None

    async def start(self, deliver: Deliver, direct: DirectHandler) -> None:
        self._loop = asyncio.get_running_loop()

        async def on_event(msg: Any) -> None:
            deliver(msg.data)

        async def on_direct(msg: Any) -> None:
            client_id = msg.subject.rsplit(".", 1)[-1]
            # only the process holding the client answers; the others stay silent
            if await direct(client_id, msg.data) and msg.reply:
                await msg.respond(b"1")

        self._subs = [
            await self.nc.subscribe(self.subject, cb=on_event),
            await self.nc.subscribe(f"{CLIENT_SUBJECT}.*", cb=on_direct),
        ]
        self._publisher = asyncio.create_task(self._publish_loop(), name="realtime nats publisher")

    def publish(self, message: bytes) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._outbox.put_nowait, message)

    async def _publish_loop(self) -> None:
        # one task awaiting each publish keeps the writer's order on the wire
        while True:
            message = await self._outbox.get()
            try:
                await self.nc.publish(self.subject, message)
            except Exception as exc:  # a lost NATS connection must not stop later events
                log.warning("realtime: NATS publish failed: %s", exc)

    async def send_direct(self, client_id: str, message: bytes) -> bool:
        try:
            reply = await self.nc.request(
                f"{CLIENT_SUBJECT}.{client_id}", message, timeout=self.direct_timeout
            )
        except Exception:  # timeout or no responders: nobody holds that client
            return False
        return bool(reply.data == b"1")

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

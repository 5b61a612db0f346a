"""One SSE connection: its id, auth, subscriptions and the frames waiting to be written."""

from __future__ import annotations

import asyncio
import secrets
import string
import time
import types
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from core.realtime.topics import Subscription
from core.store.request import Auth

_ID_ALPHABET = string.ascii_letters + string.digits
# a client that stops reading is dropped before its backlog can eat the process's memory
MAX_PENDING_BYTES = 32 << 20


def new_client_id() -> str:
    """40 random [A-Za-z0-9] characters, as PocketBase's security.RandomString(40)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(40))


@dataclass(frozen=True)
class Limits:
    """Connection lifetimes in seconds, as PocketBase: 5 min without a message, 30 min in all."""

    idle: float = 300.0
    total: float = 1800.0


def frame(client_id: str, event: str, data: bytes) -> bytes:
    return b"".join((b"id:", client_id.encode(), b"\nevent:", event.encode(), b"\ndata:", data, b"\n\n"))


# the ASGI `send` of the stream's response
Send = Callable[[dict[str, Any]], Awaitable[None]]


@types.coroutine
def _finish(it: Iterator[Any], pending: Any) -> Generator[Any, None, None]:
    """Await the rest of an awaitable that was started by hand and did not complete at once:
    hand what it waits for to the running task, resume it, until it is done."""
    while True:
        yield pending
        try:
            pending = next(it)
        except StopIteration:
            return


class Client:
    """One SSE connection.

    Frames are written the cheapest way that keeps ASGI's one-send-at-a-time rule: while nothing
    is in flight, `send` starts the server's `send` right away, from the broker's loop (with
    granian the chunk is queued for the socket before the call returns: no task wakes up).
    Only when a write has to wait (a slow reader) does the connection's own task (`pump`) take
    over: it finishes that write, then writes what queued meanwhile as one chunk.
    """

    def __init__(self, client_id: str, ip: str) -> None:
        self.id = client_id
        self.ip = ip
        self._auth: Auth | None = None
        self.auth_key: tuple[str, str] | None = None
        self.subscriptions: dict[str, Subscription] = {}
        self.discarded = False
        self.connected_at = self.last_sent = time.monotonic()
        self._head = b"id:" + client_id.encode() + b"\nevent:"
        self._frames: list[bytes] = []
        self._pending = 0
        self._waiter: asyncio.Future[None] | None = None
        self._sink: Send | None = None  # set while `pump` runs and no write is in flight
        self._started: tuple[Iterator[Any], Any] | None = None  # a direct write still waiting

    @property
    def auth(self) -> Auth | None:
        return self._auth

    @auth.setter
    def auth(self, auth: Auth | None) -> None:
        self._auth = auth
        self.auth_key = (auth.collection.id, auth.id) if auth is not None else None

    def send(self, event: bytes, data: bytes) -> bool:
        """Write or queue one frame; False when the client is gone (or dropped for not reading)."""
        if self.discarded:
            return False
        chunk = b"".join((self._head, event, b"\ndata:", data, b"\n\n"))
        sink = self._sink
        if sink is not None:
            return self._write_now(sink, chunk)
        self._frames.append(chunk)
        self._pending += len(chunk)
        if self._pending > MAX_PENDING_BYTES:
            self.discard()
            return False
        self._wake()
        return True

    def _write_now(self, sink: Send, chunk: bytes) -> bool:
        try:
            it = sink({"type": "http.response.body", "body": chunk, "more_body": True}).__await__()
            # a for loop, not next(): a completed awaitable then ends without a StopIteration
            for pending in it:
                self._sink = None  # in flight: the pump finishes it, later frames queue behind it
                self._started = (it, pending)
                self._wake()
                return True
        except Exception:  # the peer went away (servers raise OSError, RuntimeError, their own)
            self.discard()
            return False
        self.last_sent = time.monotonic()
        return True

    def discard(self) -> None:
        """End the stream (the connection closes; the SDK reconnects and subscribes again)."""
        self.discarded = True
        self._sink = None
        self._frames.clear()
        self._pending = 0
        self._wake()

    def expired(self, now: float, limits: Limits) -> bool:
        return now - self.last_sent > limits.idle or now - self.connected_at > limits.total

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def connect_frame(self) -> bytes:
        return frame(self.id, "PB_CONNECT", b'{"clientId":"' + self.id.encode() + b'"}')

    async def pump(self, send: Send) -> None:
        """Write the stream until the client is discarded: PB_CONNECT, then every frame.

        Returns once discarded; exceptions of `send` (the peer went away) propagate.
        """
        try:
            await send({"type": "http.response.body", "body": self.connect_frame(), "more_body": True})
            self.last_sent = time.monotonic()
            while not self.discarded:
                if self._started is None and not self._frames:
                    self._sink = send  # idle: the next frame is written directly
                    self._waiter = asyncio.get_running_loop().create_future()
                    try:
                        await self._waiter
                    finally:
                        self._waiter = None
                    continue
                self._sink = None
                started, self._started = self._started, None
                if started is not None:
                    await _finish(*started)
                if self._frames and not self.discarded:
                    # frames that queued together go out as one chunk: one write, not one per event
                    chunk = b"".join(self._frames) if len(self._frames) > 1 else self._frames[0]
                    self._frames.clear()
                    self._pending = 0
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self.last_sent = time.monotonic()
        finally:
            self._sink = None

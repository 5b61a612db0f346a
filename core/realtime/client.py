"""One SSE connection: its id, auth, subscriptions and the frames waiting to be written."""

from __future__ import annotations

import asyncio
import secrets
import string
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

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


class Client:
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

    @property
    def auth(self) -> Auth | None:
        return self._auth

    @auth.setter
    def auth(self, auth: Auth | None) -> None:
        self._auth = auth
        self.auth_key = (auth.collection.id, auth.id) if auth is not None else None

    def send(self, event: bytes, data: bytes) -> bool:
        """Queue one frame; False when the client is gone (or was dropped for not reading)."""
        if self.discarded:
            return False
        chunk = b"".join((self._head, event, b"\ndata:", data, b"\n\n"))
        self._frames.append(chunk)
        self._pending += len(chunk)
        if self._pending > MAX_PENDING_BYTES:
            self.discard()
            return False
        self._wake()
        return True

    def discard(self) -> None:
        """End the stream (the connection closes; the SDK reconnects and subscribes again)."""
        self.discarded = True
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

    async def next_chunk(self) -> bytes | None:
        """The frames queued so far as one chunk (waiting for one if needed); None once discarded.

        Frames that arrive together go out as one chunk: one socket write per wake-up instead of
        one per event keeps a busy stream cheap. The broker's reaper enforces the time limits,
        so waiting here costs no timer.
        """
        while not self._frames:
            if self.discarded:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.discarded:
            return None
        chunk = b"".join(self._frames) if len(self._frames) > 1 else self._frames[0]
        self._frames.clear()
        self._pending = 0
        return chunk

    def sent(self) -> None:
        """The transport wrote a chunk: the idle limit restarts."""
        self.last_sent = time.monotonic()

    async def stream(self) -> AsyncIterator[bytes]:
        """The connection's body: PB_CONNECT, then queued frames, until the client is discarded."""
        yield self.connect_frame()
        self.sent()
        while (chunk := await self.next_chunk()) is not None:
            yield chunk
            self.sent()

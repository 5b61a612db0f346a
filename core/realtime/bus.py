"""How record events travel from the writer to every process's broker.

`publish` is called on the SQLite writer thread; delivery happens on the broker's event loop,
in publish order. A process delivers its own events to its own broker directly (LocalBus does
only that). With `--workers N` the processes of one `core serve` also pass their events to each
other through the NATS server the leader runs (NatsBus); the rules that make a subscriber get
every event of a committed write, whichever process wrote it, are in NatsBus's docstring.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from core.nats.client import subscriptions_settled
from core.tasks import cancel_all

log = logging.getLogger("core.realtime")

# subjects: f"{SUBJECT_PREFIX}.{group}.<kind>"; the group is the worker group of one `core serve`,
# so two servers sharing a NATS server never see each other's records
SUBJECT_PREFIX = "core.realtime"
# every process says this often whether it has SSE clients and how far its events got
INTEREST_PERIOD = 2.0
# a process whose state has not arrived for this long is taken for gone (a sync stops waiting for it)
LIVE_PERIODS = 3
# and its clients for gone after this long: keeping them too long only costs publishing for nobody
INTEREST_PERIODS = 10
SYNC_TIMEOUT = 1.0
# what a process keeps of the events it published, for the others to fetch again after a loss
RING_BYTES = 16 << 20
REPLAY_BYTES = 256 << 10  # per reply: NATS refuses messages above max_payload (1 MB by default)

# every message on the events subject: origin, kind, and the origin's last event number
_HEADER = struct.Struct(">8scQ")
EVENT, STATE = b"E", b"S"
# a state's body: its number (a later state wins, whatever path it came by) and flags
_STATE = struct.Struct(">QB")
HAS_CLIENTS, LEAVING = 1, 2
_REPLAY = struct.Struct(">QQ")
_replayed = msgspec.msgpack.Decoder(list[tuple[int, bytes]])

Deliver = Callable[[bytes], None]
# answers a direct message: the reply when this process holds the client, else None (silence)
DirectHandler = Callable[[str, bytes], Awaitable[bytes | None]]


@dataclass(frozen=True)
class Receiver:
    """The broker's side of a bus (every call on the event loop)."""

    deliver: Deliver
    direct: DirectHandler
    has_clients: Callable[[], bool]
    # events meant for this process's clients were lost
    lost: Callable[[], None]


class Bus(Protocol):
    async def start(self, receiver: Receiver) -> None: ...

    def publish(self, message: bytes) -> None:
        """Thread-safe; messages are delivered in the order they were published."""

    async def send_direct(self, client_id: str, message: bytes) -> bytes | None:
        """Hand a message to the process holding `client_id`: its reply, None when nobody has it."""

    async def confirm_interest(self) -> None:
        """Return once every other process publishes its events to this one (its first client)."""

    def remote_interest(self) -> bool:
        """Whether another process may have SSE clients (thread-safe)."""

    async def stop(self) -> None: ...


class LocalBus:
    """This process only: a hop from the writer thread onto the event loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deliver: Deliver | None = None

    async def start(self, receiver: Receiver) -> None:
        self._loop = asyncio.get_running_loop()
        self._deliver = receiver.deliver

    def publish(self, message: bytes) -> None:
        if self._loop is None or self._deliver is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._deliver, message)

    async def send_direct(self, client_id: str, message: bytes) -> bytes | None:
        return None  # a local client was already tried by the broker

    async def confirm_interest(self) -> None:
        pass

    def remote_interest(self) -> bool:
        return False

    async def stop(self) -> None:
        self._deliver = None


class _Peer:
    """What this process knows of another one."""

    __slots__ = ("interested_until", "next", "seen", "state")

    def __init__(self) -> None:
        self.next: int | None = None  # the number of its next event this process expects
        self.state = -1  # the number of its latest state
        self.seen = 0.0
        self.interested_until = 0.0


class NatsBus:
    """The processes of one worker group, through a NATS server.

    - A process publishes its events only while another may have SSE clients: most writes, on
      most days, nobody could receive, and then deriving and publishing them is skipped. So a
      process must know of the others' clients before any of them can miss an event: every
      process says every INTEREST_PERIOD whether it has clients; a process that starts, and one
      whose first client connects (before that client's PB_CONNECT), *syncs*: a request every
      live process answers after taking note. Interest is assumed while that knowledge may be
      stale: after a sync some process did not answer, while the NATS connection is down, and
      for a while after it was restored.
    - The NATS server may lose messages: when it restarts, a process's buffered publications
      reach it before the other processes have subscribed again. So every event message carries
      its origin's number, every state the origin's last number, and each process keeps what it
      published lately (RING_BYTES): a receiver that finds a gap fetches the missing messages
      from their origin and delivers them in order. What the origin no longer has (or an origin
      that does not answer) makes the receiver call `lost`: the broker then disconnects its
      clients, so that they reconnect and know to fetch again, rather than silently miss events.

    Not covered: events that never left a process killed with SIGKILL, and a process that
    misses another's sync altogether (its loop blocked beyond SYNC_TIMEOUT).
    """

    def __init__(
        self,
        nc: Any,
        group: str,
        *,
        expected_peers: int = 0,
        period: float = INTEREST_PERIOD,
        sync_timeout: float = SYNC_TIMEOUT,
        direct_timeout: float = 1.0,
        ring_bytes: int = RING_BYTES,
    ) -> None:
        self.nc = nc
        prefix = f"{SUBJECT_PREFIX}.{group}"
        self.subject = f"{prefix}.events"
        self._sync_subject = f"{prefix}.sync"
        self._replay_prefix = f"{prefix}.replay"
        # requests to the process holding one SSE client: a frame for it (the OAuth2 popup flow)
        # or a new subscription set (POST /api/realtime that reached another worker)
        self._client_prefix = f"{prefix}.client"
        self.expected_peers = expected_peers  # how many answers the first sync waits for
        self.period = period
        self.sync_timeout = sync_timeout
        self.direct_timeout = direct_timeout
        self.ring_bytes = ring_bytes
        self._origin = secrets.token_bytes(8)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deliver: Deliver | None = None
        self._has_clients: Callable[[], bool] = lambda: False
        self._lost: Callable[[], None] = lambda: None
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._subs: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._seq = 0  # the number of this process's last published event
        self._state_no = 0
        self._ring: deque[tuple[int, bytes]] = deque()
        self._ring_size = 0
        self._peers: dict[bytes, _Peer] = {}
        # read on the writer thread: time.monotonic() until which another process may have clients
        self._interest_until = 0.0
        self._assumed_until = 0.0
        self._reconnects = 0

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, receiver: Receiver) -> None:
        self._loop = asyncio.get_running_loop()
        self._deliver, self._has_clients, self._lost = receiver.deliver, receiver.has_clients, receiver.lost
        direct = receiver.direct
        self._reconnects = self.nc.stats["reconnects"]

        async def on_direct(msg: Any) -> None:
            client_id = msg.subject.rsplit(".", 1)[-1]
            # only the process holding the client answers; the others stay silent
            reply = await direct(client_id, msg.data)
            if reply is not None and msg.reply:
                await msg.respond(reply)

        self._subs = [
            await self.nc.subscribe(self.subject, cb=self._on_bus),
            await self.nc.subscribe(self._sync_subject, cb=self._on_sync),
            await self.nc.subscribe(f"{self._replay_prefix}.{self._origin.hex()}", cb=self._on_replay),
            await self.nc.subscribe(f"{self._client_prefix}.*", cb=on_direct),
        ]
        # the server has the subscriptions before anyone is told this process exists
        await subscriptions_settled(self.nc)
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="realtime nats publisher"),
            asyncio.create_task(self._heartbeat(), name="realtime nats heartbeat"),
        ]
        if await self._sync(self.expected_peers) < self.expected_peers:
            self._assume_interest()  # a process that did not answer may have clients

    async def stop(self) -> None:
        if self._tasks:
            self._send_state(leaving=True)
            # flush what the writer already handed over before leaving
            while not self._outbox.empty():
                with contextlib.suppress(Exception):
                    await self.nc.publish(self.subject, self._outbox.get_nowait())
            await cancel_all(self._tasks)
            self._tasks = []
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs = []
        self._deliver = None

    # -- publishing ------------------------------------------------------------------------
    def publish(self, message: bytes) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._route, message)

    def _route(self, message: bytes) -> None:
        if self._deliver is not None:
            self._deliver(message)
        if self.remote_interest():
            self._seq += 1
            self._keep(self._seq, message)
            self._outbox.put_nowait(_HEADER.pack(self._origin, EVENT, self._seq) + message)

    def _keep(self, seq: int, message: bytes) -> None:
        self._ring.append((seq, message))
        self._ring_size += len(message)
        while self._ring_size > self.ring_bytes and len(self._ring) > 1:
            self._ring_size -= len(self._ring.popleft()[1])

    def _state_frame(self, leaving: bool = False) -> bytes:
        self._state_no += 1
        flags = (HAS_CLIENTS if self._has_clients() and not leaving else 0) | (LEAVING if leaving else 0)
        return _HEADER.pack(self._origin, STATE, self._seq) + _STATE.pack(self._state_no, flags)

    def _send_state(self, leaving: bool = False) -> None:
        # through the outbox: behind the events already queued, so its number is not ahead of them
        self._outbox.put_nowait(self._state_frame(leaving))

    async def _publish_loop(self) -> None:
        # one task awaiting each publish keeps the writer's order on the wire
        failing = False
        while True:
            message = await self._outbox.get()
            try:
                await self.nc.publish(self.subject, message)
            except Exception as exc:  # the ring still has it; a lost connection must not stop later ones
                if not failing:  # once per outage, not once per event
                    log.warning("realtime: NATS publish failed (the others fetch these later): %s", exc)
                failing = True
            else:
                failing = False

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            self._send_state()
            self.remote_interest()  # notices a restored connection even while nothing is written
            now = time.monotonic()
            for origin, peer in list(self._peers.items()):  # processes long gone (restarted workers)
                if now - peer.seen > 100 * self.period:
                    del self._peers[origin]

    # -- interest --------------------------------------------------------------------------
    def remote_interest(self) -> bool:
        now = time.monotonic()
        if now < self._interest_until or now < self._assumed_until:
            return True
        reconnects = self.nc.stats["reconnects"]
        if reconnects != self._reconnects:
            # restored: the others' states may have expired while it was down
            self._reconnects = reconnects
            self._assume_interest()
            return True
        # down: what is published now waits in the client's buffer and this process's ring
        return not self.nc.is_connected

    def _assume_interest(self) -> None:
        self._assumed_until = time.monotonic() + INTEREST_PERIODS * self.period

    def _note_state(self, origin: bytes, seq: int, body: bytes) -> _Peer:
        peer = self._peers.setdefault(origin, _Peer())
        number, flags = _STATE.unpack_from(body)
        if peer.next is None:  # first word from it: nothing it published earlier was meant for us
            peer.next = seq + 1
        if number <= peer.state:
            return peer  # an older state that came by another path
        peer.state = number
        now = time.monotonic()
        peer.seen = 0.0 if flags & LEAVING else now
        peer.interested_until = now + INTEREST_PERIODS * self.period if flags & HAS_CLIENTS else 0.0
        self._interest_until = max(p.interested_until for p in self._peers.values())
        return peer

    async def confirm_interest(self) -> None:
        now = time.monotonic()
        live = sum(1 for p in self._peers.values() if now - p.seen < LIVE_PERIODS * self.period)
        await self._sync(live)

    async def _sync(self, expect: int) -> int:
        """Tell every process this one's state; how many distinct ones answered (waits for `expect`)."""
        answers: asyncio.Queue[bytes] = asyncio.Queue()

        async def on_answer(msg: Any) -> None:
            answers.put_nowait(msg.data)

        answered: set[bytes] = set()
        try:
            sub = await self.nc.subscribe(self.nc.new_inbox(), cb=on_answer)
        except Exception as exc:
            log.warning("realtime: NATS sync failed: %s", exc)
            return 0
        try:
            await self.nc.publish(self._sync_subject, self._state_frame(), reply=sub.subject)
            async with asyncio.timeout(self.sync_timeout):
                while len(answered) < expect:
                    data = await answers.get()
                    origin, _, seq = _HEADER.unpack_from(data)
                    self._note_state(origin, seq, data[_HEADER.size :])
                    answered.add(origin)
        except TimeoutError:
            pass
        except Exception as exc:
            log.warning("realtime: NATS sync failed: %s", exc)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return len(answered)

    async def _on_sync(self, msg: Any) -> None:
        data: bytes = msg.data
        origin, _, seq = _HEADER.unpack_from(data)
        if origin == self._origin:
            return
        self._note_state(origin, seq, data[_HEADER.size :])
        if msg.reply:  # answered once noted: from now on this process publishes to it
            with contextlib.suppress(Exception):
                await msg.respond(self._state_frame())

    # -- receiving -------------------------------------------------------------------------
    async def _on_bus(self, msg: Any) -> None:
        data: bytes = msg.data
        origin, kind, seq = _HEADER.unpack_from(data)
        if origin == self._origin:
            return  # this process delivered its own already
        body = data[_HEADER.size :]
        if kind == STATE:
            peer = self._note_state(origin, seq, body)
            await self._catch_up(origin, peer, seq)
            return
        peer = self._peers.setdefault(origin, _Peer())
        if peer.next is None:
            peer.next = seq
        await self._catch_up(origin, peer, seq - 1)
        if seq == peer.next and self._deliver is not None:
            peer.next = seq + 1
            self._deliver(body)

    async def _catch_up(self, origin: bytes, peer: _Peer, last: int) -> None:
        """Deliver the events of `origin` up to number `last` that never arrived."""
        assert peer.next is not None
        if last < peer.next:
            return
        if not self._has_clients():  # nobody here could have wanted them
            peer.next = last + 1
            return
        missing = last - peer.next + 1
        while peer.next <= last:
            found = await self._fetch(origin, peer.next, last)
            if not found or found[0][0] != peer.next or self._deliver is None:
                log.warning(
                    "realtime: %d event(s) from another worker are lost; disconnecting this worker's "
                    "realtime clients so that they reconnect",
                    last - peer.next + 1,
                )
                peer.next = last + 1
                self._lost()
                return
            for seq, body in found:
                if seq == peer.next:
                    peer.next += 1
                    self._deliver(body)
        log.info("realtime: fetched %d event(s) lost on the way from another worker", missing)

    async def _fetch(self, origin: bytes, first: int, last: int) -> list[tuple[int, bytes]]:
        try:
            reply = await self.nc.request(
                f"{self._replay_prefix}.{origin.hex()}",
                _REPLAY.pack(first, last),
                timeout=self.direct_timeout,
            )
            return _replayed.decode(reply.data) if reply.data else []
        except Exception as exc:  # gone, or no answer in time
            log.debug("realtime: fetching events %d-%d failed: %r", first, last, exc)
            return []

    async def _on_replay(self, msg: Any) -> None:
        first, last = _REPLAY.unpack(msg.data)
        found: list[tuple[int, bytes]] = []
        if self._ring and self._ring[0][0] <= first:
            size = 0
            start = first - self._ring[0][0]  # numbers in the ring are consecutive
            for seq, body in itertools.islice(self._ring, start, None):
                if seq > last or (found and size + len(body) > REPLAY_BYTES):
                    break
                found.append((seq, body))
                size += len(body)
        with contextlib.suppress(Exception):
            await msg.respond(msgspec.msgpack.encode(found) if found else b"")

    # -- direct messages -------------------------------------------------------------------
    async def send_direct(self, client_id: str, message: bytes) -> bytes | None:
        try:
            reply = await self.nc.request(
                f"{self._client_prefix}.{client_id}", message, timeout=self.direct_timeout
            )
        except Exception as exc:  # timeout or no responders: nobody holds that client
            log.debug("realtime: no process answered for client %s: %r", client_id, exc)
            return None
        data: bytes = reply.data
        return data

"""Record events for other services: every committed create/update/delete goes to the JetStream
stream PB_EVENTS on `pb.events.<collection>.<action>`.

The events come from the same derivation as realtime (core.realtime.source): a listener on the
store's change stream. The writer thread only queues them; the event loop serializes each
record as a superuser would see it through the API (minus password, tokenKey and, unless the
collection is listed in --events-hidden, hidden fields) and publishes them one by one in
commit order, awaiting each acknowledgement. A NATS outage never fails a write: the queue holds
up to MAX_PENDING events and retries the oldest with backoff; beyond that new events are
dropped, counted and logged.

Once per change cluster-wide under --ha: every node applies every change, but only the node
that wrote it publishes its events (the change's `ha_node` tag, or a local commit), with
`Nats-Msg-Id` = `<changelog seq>:<index>`, so a republish of the same change deduplicates.
Without --ha the id is `<process token>:<counter>`, stable across this process's retries.
The gap: a node that dies between its commit and the publish loses those events (at most the
queue's content); nothing replays them. Events of different nodes reach the stream in the order
they were published, which for near-simultaneous writes may differ from the changelog order:
`seq` in the payload is the order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any

import msgspec

from core.bus.settings import EventsSettings
from core.realtime.events import RecordEvent
from core.realtime.source import ChangeSource
from core.store.db import Change
from core.store.record_view import serialize
from core.store.request import RequestContext
from core.store.schema import Collection
from core.store.times import now_str

log = logging.getLogger("core.bus")

STREAM = "PB_EVENTS"
SUBJECT_PREFIX = "pb.events"
MSG_ID = "Nats-Msg-Id"
MAX_PENDING = 100_000
DUPLICATE_WINDOW = 120.0  # seconds JetStream remembers a Nats-Msg-Id
RETRY_MAX = 5.0
BATCH = 256  # events in flight at once
ACK_TIMEOUT = 5.0
_encoder = msgspec.json.Encoder()


def subject(collection: str, action: str) -> str:
    return f"{SUBJECT_PREFIX}.{collection}.{action}"


@dataclass(frozen=True)
class Pending:
    """One event waiting on the event loop: everything fixed at commit time."""

    msg_id: str
    col: Collection
    event: RecordEvent
    node: str
    seq: int | None
    time: str


class EventSource(ChangeSource):
    """The store listener: derives a commit's events (writer thread) and hands them over."""

    def __init__(self, publisher: EventPublisher, store: Any) -> None:
        super().__init__(store.db, store.registry, lambda _: None)
        self.publisher = publisher

    def __call__(self, change: Change) -> None:
        origin = change.tags.get("ha_node")
        if origin is None or origin == self.publisher.node:  # else published by the node that wrote it
            super().__call__(change)

    def emit(self, change: Change, events: list[RecordEvent]) -> None:
        p = self.publisher
        origin = change.tags.get("ha_node")
        seq: int | None = change.tags.get("ha_seq")
        if seq is None and self.db.replicator is not None:
            # a local commit under --ha: its sequence is what the writer just reached
            seq = getattr(self.db.replicator, "applied", None)
        now = now_str()
        items: list[Pending] = []
        for index, event in enumerate(events):
            col = self.registry.find(event.collection_id)
            if col is None:
                continue
            msg_id = f"{seq}:{index}" if seq is not None else f"{p.token}:{next(p.counter)}"
            items.append(Pending(msg_id, col, event, origin or p.node, seq, now))
        if items:
            p.enqueue(items)


class EventPublisher:
    def __init__(
        self, store: Any, system: RequestContext, js: Any, *, node: str, settings: EventsSettings
    ) -> None:
        self.store = store
        self.system = system  # a superuser's view of every record
        self.js = js
        self.node = node
        self.settings = settings
        self.token = secrets.token_hex(6)
        self.counter = itertools.count(1)
        self.replicas = 1
        self.published = 0
        self.dropped = 0
        self._pending: deque[Pending] = deque()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._source: EventSource | None = None

    async def start(self, replicas: int) -> None:
        """Listen from now on; the stream is made (or its limits set) by the publishing task, so
        that a JetStream still electing its leaders delays the events rather than losing them."""
        self.replicas = replicas
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="record events publisher")
        self._source = EventSource(self, self.store)
        self._source.attach()

    async def stop(self, flush_timeout: float = 5.0) -> None:
        if self._source is not None:
            self._source.detach()
            self._source = None
        if self._task is not None:
            # what was committed before the stop still goes out, if NATS lets it
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(flush_timeout):
                    while self._pending:
                        await asyncio.sleep(0.01)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending:
            log.warning("record events: %d event(s) not published at shutdown", len(self._pending))

    # -- writer thread ---------------------------------------------------------------------
    def enqueue(self, items: list[Pending]) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._add, items)

    # -- event loop ------------------------------------------------------------------------
    def _add(self, items: list[Pending]) -> None:
        room = MAX_PENDING - len(self._pending)
        if room < len(items):
            lost = len(items) - max(room, 0)
            if self.dropped == 0 or self.dropped // 1000 != (self.dropped + lost) // 1000:
                log.warning("record events: NATS is behind; %d event(s) dropped so far", self.dropped + lost)
            self.dropped += lost
            items = items[: max(room, 0)]
        self._pending.extend(items)
        self._wake.set()

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                await ensure_stream(self.js, self.settings, self.replicas)
                break
            except Exception as exc:
                log.warning("record events: PB_EVENTS not ready (%r); trying again", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
        delay = 0.1
        failing = False
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                sent = await self._send_batch()
            except Exception as exc:  # kept and retried: the same Nats-Msg-Id makes a retry safe
                if not failing:
                    log.warning(
                        "record events: publishing failed, retrying (%d queued): %r", len(self._pending), exc
                    )
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                # a deleted stream answers nothing: make it again (a no-op when NATS is away)
                with contextlib.suppress(Exception):
                    await ensure_stream(self.js, self.settings, self.replicas)
                continue
            if failing:
                log.info("record events: publishing again (%d queued)", len(self._pending))
            failing, delay = False, 0.1
            self.published += sent

    async def _send_batch(self) -> int:
        """Publish the oldest events back to back (one connection keeps their order), then wait
        for all their acknowledgements: awaiting each in turn cost a round trip per event. They
        leave the queue only once all are stored; on a failure the batch goes again, and the ids
        JetStream has seen are dropped as duplicates."""
        batch = list(itertools.islice(self._pending, BATCH))
        acks = []
        for item in batch:
            try:
                body = self.payload(item)
            except Exception:  # a record that cannot be rendered must not hold up the others
                log.exception("record events: %s of %s not published", item.event.action, item.col.name)
                continue
            acks.append(
                await self.js.publish_async(
                    subject(item.col.name, item.event.action),
                    body,
                    stream=STREAM,
                    headers={MSG_ID: item.msg_id},
                )
            )
        try:
            async with asyncio.timeout(ACK_TIMEOUT):
                await asyncio.gather(*acks)
        except BaseException:
            for ack in acks:
                ack.cancel()
            raise
        for _ in batch:
            self._pending.popleft()
        return len(acks)

    def payload(self, item: Pending) -> bytes:
        col = item.col
        record = serialize(col, item.event.row, self.system)
        if col.name.lower() not in self.settings.hidden:
            for f in col.fields:
                if f.hidden:
                    record.pop(f.name, None)
        return _encoder.encode(
            {
                "action": item.event.action,
                "collection": col.name,
                "collectionId": col.id,
                "record": record,
                "node": item.node,
                "seq": item.seq,
                "time": item.time,
                "id": item.msg_id,
            }
        )


async def ensure_stream(js: Any, settings: EventsSettings, replicas: int) -> None:
    """PB_EVENTS with this node's limits (the last node to start sets them for all)."""
    from nats.js.api import DiscardPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    config = StreamConfig(
        name=STREAM,
        subjects=[f"{SUBJECT_PREFIX}.>"],
        storage=StorageType.FILE,
        max_age=float(settings.max_age),
        max_bytes=settings.max_bytes,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW,
        num_replicas=replicas,
        description="core: record events (pb.events.<collection>.<action>)",
    )
    try:
        await js.stream_info(STREAM)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except Exception:  # another node created it meanwhile
            pass
    await js.update_stream(config)

"""The realtime broker of one process: its SSE clients, their subscriptions, and delivery.

Record events arrive from the bus (see `source` and `bus`) and are handled one at a time, in
order, by one task: each event is matched against the subscription index, checked against each
subscriber's auth and the collection's rule, rendered once per group of equal subscribers, and
queued on the clients' streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

import msgspec

from core.realtime.access import Group, add_target, needs_db, render
from core.realtime.bus import INTEREST_PERIOD, Bus, LocalBus, NatsBus
from core.realtime.client import Client, Limits, new_client_id
from core.realtime.events import DELETE, UPDATE, RecordEvent, decode
from core.realtime.source import ChangeSource
from core.realtime.topics import Subscription, parse, record_bases
from core.store.request import Auth
from core.store.schema import Collection
from core.store.store import Store

log = logging.getLogger("core.realtime")

_CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,255}$")
_json = msgspec.json.Encoder()
_direct = msgspec.msgpack.Decoder(tuple[str, bytes])
# auth record columns whose change signs the user out of realtime (PocketBase: new tokenKey)
_REVOKING_COLUMNS = ("tokenKey", "password")


class Broker:
    def __init__(self, store: Store, *, limits: Limits | None = None, nats: Any = None) -> None:
        self.store = store
        self.limits = limits or Limits()
        self.bus: Bus = NatsBus(nats) if nats is not None else LocalBus()
        self.clients: dict[str, Client] = {}
        # topic base -> client id -> that client's subscriptions with this base
        self._index: dict[str, dict[str, list[Subscription]]] = {}
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._source: ChangeSource | None = None
        self._announced = 0.0  # when this process last announced it has clients

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.bus.start(self._inbox.put_nowait, self._direct_message)
        self._worker = asyncio.create_task(self._run(), name="realtime broker")
        self._reaper = asyncio.create_task(self._reap(), name="realtime reaper")
        # with NATS, other processes may have clients even when this one has none: they say so
        self._source = ChangeSource(
            self.store.db,
            self.store.registry,
            self.bus.publish,
            wanted=lambda: bool(self.clients) or self.bus.remote_interest(),
        )
        self._source.attach()

    async def stop(self) -> None:
        if self._source is not None:
            self._source.detach()
            self._source = None
        await self.bus.stop()
        for task in (self._worker, self._reaper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._worker = self._reaper = None
        for client in list(self.clients.values()):
            client.discard()
        self.clients.clear()
        self._index.clear()

    # -- clients ---------------------------------------------------------------------------
    def connect(self, ip: str) -> Client:
        client = Client(new_client_id(), ip)
        self.clients[client.id] = client
        if len(self.clients) == 1:
            self._announced = time.monotonic()
            self.bus.announce_interest()
        return client

    def disconnect(self, client_id: str) -> None:
        client = self.clients.pop(client_id, None)
        if client is None:
            return
        client.discard()
        self._unindex(client)

    async def _reap(self) -> None:
        """Close connections past their idle or total limit (one timer for all clients)."""
        while True:
            await asyncio.sleep(min(1.0, self.limits.idle / 4, self.limits.total / 4))
            now = time.monotonic()
            if self.clients and now - self._announced >= INTEREST_PERIOD:
                self._announced = now
                self.bus.announce_interest()
            for client in list(self.clients.values()):
                if client.expired(now, self.limits):
                    client.discard()

    def get(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def subscribe(self, client: Client, topics: list[str], auth: Auth | None) -> None:
        """Replace the client's whole subscription set (an empty list unsubscribes from all)."""
        client.auth = auth
        self._unindex(client)
        client.subscriptions = {t: parse(t) for t in topics if t}
        for sub in client.subscriptions.values():
            self._index.setdefault(sub.base, {}).setdefault(client.id, []).append(sub)

    def _unindex(self, client: Client) -> None:
        for sub in client.subscriptions.values():
            by_client = self._index.get(sub.base)
            if by_client is None:
                continue
            by_client.pop(client.id, None)
            if not by_client:
                del self._index[sub.base]

    async def send_to_client(self, client_id: str, event: str, data: Any) -> bool:
        """Send one message to a client subscribed to `event` (e.g. `@oauth2`), on any process.

        `data` is sent as is when bytes or str, else as JSON. False when no process has such a
        client, or the client is not subscribed to `event`.
        """
        payload = (
            data
            if isinstance(data, bytes)
            else data.encode()
            if isinstance(data, str)
            else _json.encode(data)
        )
        client = self.clients.get(client_id)
        if client is not None:
            return self._send_direct(client, event, payload)
        if not _CLIENT_ID.match(client_id):
            return False  # never let a caller-supplied id shape a NATS subject
        return await self.bus.send_direct(client_id, msgspec.msgpack.encode((event, payload)))

    @staticmethod
    def _send_direct(client: Client, event: str, payload: bytes) -> bool:
        if not any(sub.base == event for sub in client.subscriptions.values()):
            return False
        return client.send(event.encode(), payload)

    async def _direct_message(self, client_id: str, message: bytes) -> bool:
        client = self.clients.get(client_id)
        if client is None:
            return False
        try:
            event, payload = _direct.decode(message)
        except msgspec.DecodeError:
            return False
        return self._send_direct(client, event, payload)

    # -- events ----------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            message = await self._inbox.get()
            try:
                events = decode(message)
            except msgspec.DecodeError:
                log.warning("realtime: dropped an undecodable message")
                continue
            for event in events:
                try:
                    await self._dispatch(event)
                except Exception:  # one bad event must not stop realtime
                    log.exception("realtime: failed to deliver a %s event", event.action)

    async def _dispatch(self, event: RecordEvent) -> None:
        col = self.store.find(event.collection_id)
        if col is None or col.id != event.collection_id:
            return
        if col.is_auth:
            self._auth_changed(col, event)
        groups = self._groups(col, event)
        if not groups:
            return
        find = self.store.find
        if needs_db(col, groups):
            await self.store.db.read(lambda conn: render(conn, col, event, groups, find))
        else:
            render(None, col, event, groups, find)
        for group in groups:
            if group.data is not None:
                for client, name in group.targets:
                    client.send(name, group.data)

    def _groups(self, col: Collection, event: RecordEvent) -> list[Group]:
        """The subscribers of this event, grouped by what they will get."""
        groups: dict[Any, Group] = {}
        seen: set[str] = set()
        for base, rule_name in record_bases(col.id, col.name, event.record_id):
            by_client = self._index.get(base)
            if not by_client or base in seen:
                continue
            seen.add(base)
            for client_id, subs in by_client.items():
                client = self.clients.get(client_id)
                if client is None or client.discarded:
                    continue
                for sub in subs:
                    add_target(groups, client, sub, rule_name)
        return list(groups.values())

    def _auth_changed(self, col: Collection, event: RecordEvent) -> None:
        """Keep each client's auth record current; a new password or tokenKey signs it out."""
        key = (col.id, event.record_id)
        revoke = event.action == DELETE or any(c in event.changed for c in _REVOKING_COLUMNS)
        for client in self.clients.values():
            if client.auth_key != key:
                continue
            if revoke:
                client.auth = None
            elif event.action == UPDATE:
                client.auth = Auth(record=event.row, collection=col)

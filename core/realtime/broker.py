"""The realtime broker of one process: its SSE clients, their subscriptions, and delivery.

Record events arrive from the bus (see `source` and `bus`) and are handled one at a time, in
order, by one task: each event is matched against the subscription index, checked against each
subscriber's auth and the collection's rule, rendered once per group of equal subscribers, and
queued on the clients' streams.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from core.errors import ApiError
from core.realtime.access import Group, needs_db, new_group, render
from core.realtime.bus import Bus, LocalBus, Receiver
from core.realtime.client import Client, Limits, new_client_id
from core.realtime.events import DELETE, UPDATE, RecordEvent, decode
from core.realtime.source import ChangeSource
from core.realtime.topics import Subscription, parse, record_bases
from core.store.request import Auth
from core.store.schema import Collection
from core.store.store import Store
from core.tasks import cancel_all

log = logging.getLogger("core.realtime")

_CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,255}$")
_json = msgspec.json.Encoder()
# direct messages between processes: ("send", event, payload) or ("subscribe", topics, auth, ip)
_direct = msgspec.msgpack.Decoder(list[Any])
_DELIVERED = b"1"
# frames written between two passes of the event loop (see _dispatch)
YIELD_EVERY = 256
_SUBSCRIBED = msgspec.msgpack.encode((0, "", None))
INVALID_CLIENT = "Missing or invalid client id."
ResolveAuth = Callable[[str], Awaitable[Auth | None]]
# subscribers of one topic base with the same auth and options: (key, auth, a subscription, targets)
_Audience = tuple[Any, Auth | None, Subscription, list[tuple[Client, bytes]]]
# auth record columns whose change signs the user out of realtime (PocketBase: new tokenKey)
_REVOKING_COLUMNS = ("tokenKey", "password")


class Broker:
    def __init__(
        self,
        store: Store,
        *,
        limits: Limits | None = None,
        bus: Bus | None = None,
        resolve_auth: ResolveAuth | None = None,
    ) -> None:
        self.store = store
        # the Authorization header of a subscription request to the auth it carries
        self.resolve_auth = resolve_auth or _no_auth
        self.limits = limits or Limits()
        # with `--workers N`, a NatsBus: the events of every worker reach every worker's clients
        self.bus: Bus = bus or LocalBus()
        self.clients: dict[str, Client] = {}
        # topic base -> client id -> that client's subscriptions with this base
        self._index: dict[str, dict[str, list[Subscription]]] = {}
        # topic base -> its subscribers grouped by (auth, options): rebuilt after any change to the
        # index or to a client's auth (`_version`), so an event costs a list copy per group, not a
        # Python loop over thousands of clients
        self._version = 0
        self._audiences: dict[str, list[_Audience]] = {}
        self._audiences_version = -1
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._source: ChangeSource | None = None
        self._interest: asyncio.Task[None] | None = None  # the other processes know of our clients

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.bus.start(
            Receiver(self._inbox.put_nowait, self._direct_message, self._has_clients, self._lost)
        )
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

    def _has_clients(self) -> bool:
        return bool(self.clients)

    def _lost(self) -> None:
        """Events meant for this process's clients are lost: end every stream. The SDKs connect
        again and get a new PB_CONNECT, which tells an app to fetch what it shows again;
        PocketBase's own guarantee is per connection too."""
        for client in list(self.clients.values()):
            client.discard()

    async def stop(self) -> None:
        if self._source is not None:
            self._source.detach()
            self._source = None
        await self.bus.stop()
        await cancel_all((self._worker, self._reaper, self._interest))
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
            # the other processes publish their events to this one only once they know it has
            # clients: tell them now, and let streams wait for their answer (see `open`)
            self._interest = asyncio.create_task(self.bus.confirm_interest(), name="realtime interest")
        return client

    async def open(self, ip: str) -> Client:
        """A new SSE client, once every process publishes its events to this one: no write
        committed after the client got its PB_CONNECT (and so after its subscription) can miss it."""
        client = self.connect(ip)
        if self._interest is not None:
            try:
                await asyncio.shield(self._interest)
            except BaseException:
                self.disconnect(client.id)
                raise
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
            for client in list(self.clients.values()):
                if client.expired(now, self.limits):
                    client.discard()

    def get(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def subscribe(self, client: Client, topics: list[str], auth: Auth | None) -> None:
        """Replace the client's whole subscription set (an empty list unsubscribes from all)."""
        client.auth = auth
        self._version += 1
        self._unindex(client)
        client.subscriptions = {t: parse(t) for t in topics if t}
        for sub in client.subscriptions.values():
            self._index.setdefault(sub.base, {}).setdefault(client.id, []).append(sub)

    def _unindex(self, client: Client) -> None:
        self._version += 1
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
        reply = await self.bus.send_direct(client_id, msgspec.msgpack.encode(("send", event, payload)))
        return reply == _DELIVERED

    async def subscribe_client(self, client_id: str, topics: list[str], authorization: str, ip: str) -> None:
        """POST /api/realtime: replace the subscriptions of a client held by any process.

        The request may reach another worker than the one holding the stream; that one then
        checks and applies it. Raises ApiError as PocketBase answers (404 unknown client, 400 for
        another IP, 403 for another auth).
        """
        client = self.clients.get(client_id)
        if client is not None:
            if client.discarded:
                raise ApiError(404, INVALID_CLIENT)
            await self._subscribe_local(client, topics, authorization, ip)
            return
        if not _CLIENT_ID.match(client_id):
            raise ApiError(404, INVALID_CLIENT)
        message = msgspec.msgpack.encode(("subscribe", topics, authorization, ip))
        reply = await self.bus.send_direct(client_id, message)
        if reply is None:
            raise ApiError(404, INVALID_CLIENT)
        status, text, data = msgspec.msgpack.decode(reply)
        if status:
            raise ApiError(status, text, data)

    async def _subscribe_local(self, client: Client, topics: list[str], authorization: str, ip: str) -> None:
        # a client id is a bearer secret for the stream: only its own IP may steer it
        if client.ip != ip:
            raise ApiError(400, "Invalid realtime client.")
        auth = await self.resolve_auth(authorization)
        # a guest may sign in; an authenticated client may not become someone else (or a guest)
        if client.auth is not None and (auth is None or (auth.collection.id, auth.id) != client.auth_key):
            raise ApiError(403, "The current and the previous request authorization don't match.")
        self.subscribe(client, topics, auth)

    @staticmethod
    def _send_direct(client: Client, event: str, payload: bytes) -> bool:
        if not any(sub.base == event for sub in client.subscriptions.values()):
            return False
        return client.send(event.encode(), payload)

    async def _direct_message(self, client_id: str, message: bytes) -> bytes | None:
        client = self.clients.get(client_id)
        if client is None or client.discarded:
            return None
        try:
            kind, *args = _direct.decode(message)
            if kind == "send":
                event, payload = args
                return _DELIVERED if self._send_direct(client, str(event), bytes(payload)) else None
            if kind == "subscribe":
                topics, authorization, ip = args
                try:
                    await self._subscribe_local(client, [str(t) for t in topics], str(authorization), str(ip))
                except ApiError as e:
                    return msgspec.msgpack.encode((e.status, e.message, e.data))
                return _SUBSCRIBED
        except (msgspec.DecodeError, ValueError, TypeError):
            log.warning("realtime: dropped a malformed direct message")
        return None

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
        if self.store.sync.stale():  # the event may come from a collection or rule changed elsewhere
            await self.store.sync.catch_up()
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
        sent = 0
        for group in groups:
            if group.data is not None:
                for client, name in group.targets:
                    client.send(name, group.data)
                    sent += 1
                    if sent % YIELD_EVERY == 0:
                        # a pass of the event loop between chunks: its poll releases the GIL, so
                        # the SQLite writer commits the next write (and requests go on) while a
                        # large fan-out runs, instead of waiting milliseconds for all of it
                        await asyncio.sleep(0)

    def _groups(self, col: Collection, event: RecordEvent) -> list[Group]:
        """The subscribers of this event, grouped by what they will get."""
        groups: dict[Any, Group] = {}
        seen: set[str] = set()
        for base, rule_name in record_bases(col.id, col.name, event.record_id):
            if base in seen or base not in self._index:
                continue
            seen.add(base)
            for key, auth, sub, targets in self._audience(base):
                group = groups.get((key, rule_name))
                if group is None:
                    group = groups[(key, rule_name)] = new_group(auth, sub, rule_name)
                group.targets += targets
        return list(groups.values())

    def _audience(self, base: str) -> list[_Audience]:
        if self._audiences_version != self._version:
            self._audiences.clear()
            self._audiences_version = self._version
        found = self._audiences.get(base)
        if found is None:
            by_key: dict[Any, _Audience] = {}
            for client_id, subs in self._index.get(base, {}).items():
                client = self.clients.get(client_id)
                if client is None or client.discarded:
                    continue
                for sub in subs:
                    key = (client.auth_key, sub.options_key)
                    entry = by_key.get(key)
                    if entry is None:
                        entry = by_key[key] = (key, client.auth, sub, [])
                    entry[3].append((client, sub.event))
            found = self._audiences[base] = list(by_key.values())
        return found

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
            self._version += 1


async def _no_auth(_authorization: str) -> Auth | None:
    return None

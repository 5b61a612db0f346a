"""Starting and stopping the bus for one `core serve` process: the record events publisher in
every process that writes, the webhook deliveries in the leader of each node."""

from __future__ import annotations

import logging
from typing import Any

from core.bus import settings as bus_settings
from core.bus.connection import app_connection
from core.bus.events import EventPublisher
from core.bus.webhooks import Dispatcher

log = logging.getLogger("core.bus")

SERVICE = "bus"


class Bus:
    def __init__(
        self, nc: Any, owned: bool, publisher: EventPublisher, dispatcher: Dispatcher | None
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self._owned = owned
        self.publisher = publisher
        self.dispatcher = dispatcher

    async def stop(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        await self.publisher.stop()
        if self._owned:
            try:
                await self.nc.drain()
            except Exception as exc:  # already closed, or NATS gone
                log.debug("record events: closing the connection: %r", exc)


async def start(app: Any) -> Bus | None:
    nats = app.services.get("nats")
    if nats is None:
        return None  # --no-nats: nothing to publish to
    settings = app.services.get(bus_settings.SERVICE) or bus_settings.from_args(None, app.settings.env)
    if not settings.enabled:
        if app.settings.worker == 0 and app.store.settings.get().get("webhooks"):
            log.warning("record events are off (start with --events): webhooks are not delivered")
        return None
    ha = app.services.get("ha")
    node = ha.settings.node if ha is not None else (nats.settings.name or nats.settings.hostname)
    replicas = ha.settings.stream.replicas if ha is not None else 1
    nc, owned = await app_connection(nats)
    js = nc.jetstream()
    system = app.auth.system_context()
    publisher = EventPublisher(app.store, system, js, node=node, settings=settings)
    dispatcher = None
    try:
        await publisher.start(replicas)
        if app.settings.worker == 0:
            dispatcher = Dispatcher(app.store, system, js, replicas=replicas)
            await dispatcher.start()
    except BaseException:
        await publisher.stop(flush_timeout=0)
        if owned:
            await nc.close()
        raise
    log.info("record events: publishing to PB_EVENTS as node %s", node)
    return Bus(nc, owned, publisher, dispatcher)

"""Realtime: SSE clients, topic subscriptions and rule-checked delivery of record events.

Events come from the store's change stream (`source`), travel over a bus (`bus`: NATS when the
process runs one, else in-process) and are delivered by each process's `Broker`.
"""

from core.realtime.broker import Broker
from core.realtime.client import Client, Limits

__all__ = ["Broker", "Client", "Limits"]

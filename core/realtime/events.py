"""Record events and their wire form.

An event carries the record's full stored row: the after-image for create/update, the
before-image for delete. Rule checks and payloads are computed from that image on the receiving
process, so every process (and node) that gets the same events sends the same frames, whatever
happened to the row since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

CREATE, UPDATE, DELETE = "create", "update", "delete"

# NATS refuses messages above max_payload (1 MB by default): big transactions go out in parts
MAX_MESSAGE_BYTES = 512 * 1024


@dataclass(frozen=True)
class RecordEvent:
    action: str
    collection_id: str
    row: dict[str, Any]  # column -> stored SQLite value
    changed: tuple[str, ...] = ()  # updates only: the columns whose value changed

    @property
    def record_id(self) -> str:
        return str(self.row.get("id", ""))


_Wire = tuple[str, str, dict[str, Any], tuple[str, ...]]
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[_Wire])


def encode(events: list[RecordEvent], limit: int = MAX_MESSAGE_BYTES) -> list[bytes]:
    """One message, or several of at most `limit` bytes (an oversized single event goes alone)."""
    wire: list[_Wire] = [(e.action, e.collection_id, e.row, e.changed) for e in events]
    return _split(wire, limit)


def _split(wire: list[_Wire], limit: int) -> list[bytes]:
    message = _encoder.encode(wire)
    if len(message) <= limit or len(wire) == 1:
        return [message]
    half = len(wire) // 2
    return _split(wire[:half], limit) + _split(wire[half:], limit)


def decode(message: bytes) -> list[RecordEvent]:
    return [RecordEvent(a, c, row, tuple(changed)) for a, c, row, changed in _decoder.decode(message)]

"""The changelog entry: what one write group publishes to the stream, and how a message is read back.

A message is `MAGIC + version byte + msgpack body`. The magic separates three cases that must be
handled differently by every node alike (issue 13, invariants 9 and 10):
- no magic: not core's (someone published garbage on the subject): skipped and counted;
- the magic with a version this node does not know: written by a newer core; this node stops
  applying (guessing would diverge) until it is upgraded;
- the magic and a known version but a body that does not decode: a real entry that cannot be
  read, which also stops the node: it is never skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

MAGIC = b"\xc0reCL"  # 0xc0 is never the first byte of UTF-8 text or of a msgpack map
# the newest format this core writes. 1: write groups; 2: a backup restore (core/ha/restore.py),
# written as 2 so that a node too old to know it stops there instead of applying an empty
# change. Write groups stay 1, so nodes of both versions share a stream until someone restores.
FORMAT_VERSION = 2
RESTORE_VERSION = 2


class Entry(msgspec.Struct, frozen=True):
    """One write group: its net changeset, whether it changed the schema, and its notes."""

    node: str  # the node that wrote it, for status and metrics only (every node applies every entry)
    changeset: bytes = b""
    # a schema entry carries `_collections` changes; every node derives the DDL from them
    # (core.store.ddl.sync_schema) instead of replaying SQL text
    schema: bool = False
    tags: dict[str, Any] = {}
    # a backup restore: the object (in the snapshot bucket) whose data.db replaces every node's
    restore: str = ""


class NotAnEntry(Exception):
    """The message is not a core changelog entry at all: skip it (every node does the same)."""


class UnreadableEntry(Exception):
    """A core entry this node cannot read (a newer format, or a broken body): stop applying."""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Entry)


# every format this core can read, by version: a new format adds its reader here and keeps the
# older ones, so that a node upgraded while older nodes still write applies both (a rolling
# upgrade); tests/ha/golden/ holds entries of each version that must stay readable
READERS: dict[int, Callable[[bytes], Entry]] = {1: _decoder.decode, RESTORE_VERSION: _decoder.decode}


def encode(entry: Entry) -> bytes:
    return MAGIC + bytes([RESTORE_VERSION if entry.restore else 1]) + _encoder.encode(entry)


def decode(payload: bytes) -> Entry:
    if not payload.startswith(MAGIC) or len(payload) <= len(MAGIC):
        raise NotAnEntry("no core changelog header")
    version = payload[len(MAGIC)]
    reader = READERS.get(version)
    if reader is None:
        readable = ", ".join(str(v) for v in sorted(READERS))
        raise UnreadableEntry(
            f"changelog entry format {version}; this core reads format {readable} (upgrade this node)"
        )
    try:
        return reader(payload[len(MAGIC) + 1 :])
    except msgspec.DecodeError as exc:
        raise UnreadableEntry(f"changelog entry format {version} does not decode: {exc}") from None

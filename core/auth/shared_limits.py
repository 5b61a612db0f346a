"""Rate limit windows and cooldowns shared by the worker processes of one `core serve`.

With `--workers N` a client's connections land on any worker, so counters kept in each
process would let it through N times as often (an OTP guess limit of 5 would be 5 x N). The
counters then live in a small table in shared memory instead: a file in the data dir's run
dir, mapped by every worker, each update made under an `flock`. Same interface and the same
fixed-window arithmetic as `RateLimiters` and `Cooldowns` (core/auth/ratelimit.py), with wall
clock seconds, since the table outlives a process. The leader empties it at start, so a
restart forgets the counters as PocketBase's do.

The table is a fixed array of slots found by hashing the key (open addressing over a short
probe run). A full run evicts the entry that expires first: under a flood of distinct clients
the oldest windows are forgotten, never the memory exhausted.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from core.auth.ratelimit import FORGET_AFTER_S

SLOTS = 16384
PROBE = 32
# key digest, two values, and when the slot may be reused (0: free)
_ENTRY = struct.Struct("<16sddd")
_SIZE = SLOTS * _ENTRY.size

Values = tuple[float, float]
# given the current values (None: no live entry), the answer and the new values with their expiry
# (None: leave the slot as it is; expiry 0: free it)
Step = Callable[[Values | None], tuple[bool, tuple[float, float, float] | None]]


class SharedTable:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if os.fstat(self._fd).st_size < _SIZE:
            os.ftruncate(self._fd, _SIZE)
        self._mm = mmap.mmap(self._fd, _SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def close(self) -> None:
        self._mm.close()
        os.close(self._fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def clear(self) -> None:
        with self._locked():
            self._mm[:] = bytes(_SIZE)

    def update(self, key: str, step: Step) -> bool:
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        start = int.from_bytes(digest[:8], "little") % SLOTS
        with self._locked():
            now = self.clock()
            found, spare, spare_expiry = -1, -1, float("inf")
            for i in range(PROBE):
                slot = (start + i) % SLOTS
                key_bytes, _a, _b, expires = _ENTRY.unpack_from(self._mm, slot * _ENTRY.size)
                live = expires > now
                if live and key_bytes == digest:
                    found = slot
                    break
                # a free or expired slot first, else the live one that expires soonest
                rank = -1.0 if not live else expires
                if rank < spare_expiry:
                    spare, spare_expiry = slot, rank
            current: Values | None = None
            if found >= 0:
                _, a, b, _ = _ENTRY.unpack_from(self._mm, found * _ENTRY.size)
                current = (a, b)
            answer, new = step(current)
            if new is not None:
                slot = found if found >= 0 else spare
                _ENTRY.pack_into(self._mm, slot * _ENTRY.size, digest, *new)
            return answer


class SharedRateLimiters:
    """`RateLimiters` over a SharedTable: (available, last allowed) per limiter and client."""

    def __init__(self, table: SharedTable) -> None:
        self.table = table

    def allow(self, limiter_id: str, client: str, max_requests: int, duration: int) -> bool:
        now = self.table.clock()

        def step(current: Values | None) -> tuple[bool, tuple[float, float, float] | None]:
            available, last = current if current is not None else (0.0, float("-inf"))
            if now - last >= duration:
                available = float(max_requests)
            if available > 0:
                return True, (available - 1, now, now + duration + FORGET_AFTER_S)
            return False, None

        # the rule's numbers are part of the key: editing a rule starts fresh counters
        return self.table.update(f"rl\0{limiter_id}\0{max_requests}\0{duration}\0{client}", step)

    def reset(self) -> None:
        self.table.clear()


class SharedCooldowns:
    """`Cooldowns` over a SharedTable: keys that stay set until a moment."""

    def __init__(self, table: SharedTable) -> None:
        self.table = table

    def active(self, key: str) -> bool:
        return self.table.update(f"cd\0{key}", lambda current: (current is not None, None))

    def start(self, key: str, seconds: float) -> None:
        until = self.table.clock() + seconds
        self.table.update(f"cd\0{key}", lambda _current: (True, (until, 0.0, until)))

    def clear(self, key: str) -> None:
        self.table.update(f"cd\0{key}", lambda current: (True, (0.0, 0.0, 0.0) if current else None))

"""The changelog on JetStream: one stream, appended to with compare-and-set, read in order.

Why these choices:
- `Nats-Expected-Last-Sequence` makes an append a compare-and-set on the whole stream: an entry
  is accepted only if its writer had applied everything before it, which is what makes
  `--ha-writes serializable` serializable (issue 13, invariant 2);
- an append whose answer was lost is safe to send again: without an expected sequence the
  server's `Nats-Msg-Id` de-duplication answers with the first copy's sequence; with one, the
  server checks the sequence first and says "wrong last sequence" (measured on 2.15), so a
  refusal is checked against the entry stored right after the expected sequence: if that entry
  carries our id, it is ours;
- reads of a few entries (a writer catching up after losing a race) are gets from the stream's
  leader, one request each and no consumer to create (not direct gets: any replica answers
  those, and a replica a little behind says "no message" for an entry that exists); a node
  following the stream uses one ordered consumer, which JetStream restarts from the last
  sequence it delivered after any gap.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext, api

from core.nats.errors import NatsError

T = TypeVar("T")

WRONG_LAST_SEQUENCE = 10071
STREAM_NOT_FOUND = 10059
_LAST_RE = re.compile(r"wrong last sequence:?\s*(\d+)")


class ChangelogError(NatsError):
    """The changelog did not answer as needed (no quorum, NATS unreachable, a timeout)."""


class NotYetReadable(ChangelogError):
    """The entry is proposed (a refused append already counts it) but not stored yet."""


class WrongLastSequence(ChangelogError):
    """Another node appended first: apply what is new, then try again."""

    def __init__(self, last: int | None) -> None:
        super().__init__(f"wrong last sequence: {last}")
        self.last = last


@dataclass(frozen=True)
class StreamSettings:
    name: str = "pb"
    replicas: int = 1
    max_age: float = 0.0  # seconds, 0: kept until snapshots allow trimming
    max_bytes: int = -1

    @property
    def subject(self) -> str:
        return f"{self.name}.changes"


@dataclass(frozen=True)
class Message:
    seq: int
    data: bytes


class Changelog:
    def __init__(self, js: JetStreamContext, settings: StreamSettings) -> None:
        self.js = js
        self.settings = settings

    async def ensure(self, metadata: dict[str, str] | None = None) -> tuple[api.StreamInfo, bool]:
        """The stream, and whether this call created it (with file storage and `metadata`).

        An existing stream keeps its configuration: the first node decided it, and changing
        replicas or limits under running nodes is an operator's decision, not a restart's.
        """
        s = self.settings
        try:
            return await self.js.stream_info(s.name), False
        except nats.js.errors.NotFoundError:
            pass
        config = api.StreamConfig(
            name=s.name,
            subjects=[s.subject],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            discard=api.DiscardPolicy.OLD,
            num_replicas=s.replicas,
            max_age=s.max_age or None,
            max_bytes=s.max_bytes,
            allow_direct=True,
            deny_delete=True,
            deny_purge=False,  # trimming below the newest snapshot is a purge up to a sequence
            metadata=metadata,
        )
        try:
            info = await self.js.add_stream(config)
            await wait_for_leader(self.js, s.name)
            return info, True
        except nats.js.errors.BadRequestError as exc:
            # two nodes raced to create it (their metadata differs): the other one won
            if "already in use" not in str(exc.description or ""):
                raise ChangelogError(f"cannot create stream {s.name}: {exc.description}") from None
        try:
            return await self.js.stream_info(s.name), False
        except nats.js.errors.NotFoundError:
            # the winner's stream is accepted but not placed yet (seen on a loaded 3-node
            # cluster): a retryable answer, not a crash at start
            raise ChangelogError(f"stream {s.name} is being created by another node") from None

    async def info(self) -> api.StreamInfo:
        try:
            return await self.js.stream_info(self.settings.name)
        except (nats.errors.Error, TimeoutError) as exc:
            raise ChangelogError(f"stream {self.settings.name}: {_describe(exc)}") from None

    async def append(self, data: bytes, *, msg_id: str, expected_last: int | None, timeout: float) -> int:
        """Append one entry; its sequence. `expected_last` None: no compare-and-set (last-writer-wins)."""
        headers = {"Nats-Msg-Id": msg_id}
        if expected_last is not None:
            headers["Nats-Expected-Last-Sequence"] = str(expected_last)
        try:
            ack = await self.js.publish(
                self.settings.subject, data, timeout=timeout, stream=self.settings.name, headers=headers
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                match = _LAST_RE.search(str(exc.description or ""))
                last = int(match.group(1)) if match else None
                mine = None if expected_last is None else expected_last + 1
                if (
                    mine is not None
                    and (last is None or last >= mine)
                    and await self._stored_with_id(mine, msg_id)
                ):
                    return mine  # an earlier try of this append got in
                raise WrongLastSequence(last) from None
            raise ChangelogError(f"append refused: {_describe(exc)}") from None
        except (nats.errors.Error, TimeoutError) as exc:
            raise ChangelogError(f"append: {_describe(exc)}") from None
        return int(ack.seq)

    async def _stored_with_id(self, seq: int, msg_id: str) -> bool:
        try:
            msg = await self.js.get_msg(self.settings.name, seq)
        except (nats.errors.Error, TimeoutError):
            return False  # unknown: the caller treats the append as lost and catches up
        return bool(msg.headers and msg.headers.get("Nats-Msg-Id") == msg_id)

    async def get(self, seq: int) -> Message | None:
        """The entry at `seq`; None if the stream no longer has it (trimmed below a snapshot)."""
        try:
            msg = await self.js.get_msg(self.settings.name, seq)
        except nats.js.errors.NotFoundError:
            if seq >= int((await self.info()).state.first_seq or 1):
                raise NotYetReadable(f"entry {seq} is not readable yet") from None
            return None
        except (nats.errors.Error, TimeoutError) as exc:
            raise ChangelogError(f"read of entry {seq}: {_describe(exc)}") from None
        return Message(int(msg.seq or seq), bytes(msg.data or b""))

    async def follow(self, start: int, on_message: Callable[[Message], Awaitable[None]]) -> Follower:
        """Deliver every entry from `start` on, in order, until the follower is stopped."""
        config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)

        async def deliver(msg: object) -> None:
            meta = msg.metadata  # type: ignore[attr-defined]
            await on_message(Message(int(meta.sequence.stream), bytes(msg.data)))  # type: ignore[attr-defined]

        sub = await self.js.subscribe(
            self.settings.subject,
            stream=self.settings.name,
            ordered_consumer=True,
            config=config,
            cb=deliver,
            idle_heartbeat=2.0,
        )
        return Follower(sub)


class Follower:
    def __init__(self, sub: object) -> None:
        self._sub = sub

    async def stop(self) -> None:
        try:
            await self._sub.unsubscribe()  # type: ignore[attr-defined]
        except (nats.errors.Error, asyncio.CancelledError):
            pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | nats.errors.TimeoutError):
        return "no answer in time (no JetStream quorum, or NATS unreachable)"
    if isinstance(exc, nats.js.errors.APIError):
        return f"{exc.description} (code {exc.err_code})"
    return str(exc) or type(exc).__name__


async def wait_for_leader(js: JetStreamContext, stream: str, timeout: float = 30.0) -> None:
    """Until a replicated stream just created has elected its leader (its first writes would
    time out before that)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            info = await js.stream_info(stream)
            if info.cluster is None or info.cluster.leader:
                return
        except (nats.errors.Error, TimeoutError):
            pass
        if loop.time() > deadline:
            raise ChangelogError(f"stream {stream} has no leader after {timeout:.0f}s (no JetStream quorum?)")
        await asyncio.sleep(0.2)


async def settled(what: str, attempt: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    """`attempt()` again until it stops timing out: a cluster that is just forming (leaders being
    elected, a peer still starting) answers its first JetStream requests late or not at all."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await attempt()
        except (
            ChangelogError,
            nats.errors.TimeoutError,
            TimeoutError,
            nats.js.errors.ServiceUnavailableError,
        ) as exc:
            if loop.time() > deadline:
                raise ChangelogError(f"{what}: {_describe(exc)} for {timeout:.0f}s") from None
        await asyncio.sleep(0.5)

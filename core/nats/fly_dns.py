"""Ask Fly.io's internal DNS (fdaa::3, or the resolv.conf nameserver) for peers: AAAA and TXT.

The standard library resolves addresses but not TXT records, and the project carries no DNS
package, so this is a minimal RFC 1035 client over UDP: one question per query, no recursion
of its own. Packing and parsing are pure functions, tested without a network.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import struct
from pathlib import Path

from core.nats.topology import FlyDns, FlyEnv

log = logging.getLogger("core.nats")

TYPE_A, TYPE_TXT, TYPE_AAAA = 1, 16, 28
FLY_NAMESERVER = "fdaa::3"


class DnsError(OSError):
    """No usable answer (timeout, server failure); NXDOMAIN is an empty answer instead."""


def build_query(qid: int, name: str, qtype: int) -> bytes:
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # recursion desired, one question
    labels = b"".join(bytes([len(p)]) + p.encode("idna") for p in name.rstrip(".").split(".") if p)
    return header + labels + b"\0" + struct.pack("!HH", qtype, 1)


def _skip_name(packet: bytes, offset: int) -> int:
    while True:
        if offset >= len(packet):
            raise DnsError("truncated DNS name")
        length = packet[offset]
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length


def parse_answers(packet: bytes, qid: int, qtype: int) -> list[str]:
    """The answers of type `qtype`: IP addresses as text, or each TXT record's strings joined."""
    if len(packet) < 12:
        raise DnsError("short DNS reply")
    rid, flags, qdcount, ancount, _, _ = struct.unpack("!HHHHHH", packet[:12])
    if rid != qid:
        raise DnsError("DNS reply for another query")
    rcode = flags & 0xF
    if rcode == 3:  # NXDOMAIN: no machine of that name is started
        return []
    if rcode:
        raise DnsError(f"DNS error code {rcode}")
    offset = 12
    for _ in range(qdcount):
        offset = _skip_name(packet, offset) + 4
    answers = []
    for _ in range(ancount):
        offset = _skip_name(packet, offset)
        rtype, _, _, length = struct.unpack("!HHIH", packet[offset : offset + 10])
        offset += 10
        data = packet[offset : offset + length]
        offset += length
        if rtype != qtype:
            continue
        if rtype in (TYPE_A, TYPE_AAAA):
            answers.append(ipaddress.ip_address(data).compressed)
        elif rtype == TYPE_TXT:
            parts, i = [], 0
            while i < len(data):
                parts.append(data[i + 1 : i + 1 + data[i]].decode(errors="replace"))
                i += 1 + data[i]
            answers.append("".join(parts))
    return answers


def system_nameserver(resolv_conf: Path = Path("/etc/resolv.conf")) -> str:
    with contextlib.suppress(OSError):
        for line in resolv_conf.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "nameserver":
                return fields[1]
    return FLY_NAMESERVER


class _Reply(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.future.done():
            self.future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class Resolver:
    def __init__(
        self, nameserver: str | None = None, port: int = 53, timeout: float = 2.0, tries: int = 2
    ) -> None:
        self.nameserver = nameserver or system_nameserver()
        self.port = port
        self.timeout = timeout
        self.tries = tries

    async def query(self, name: str, qtype: int) -> list[str]:
        loop = asyncio.get_running_loop()
        last: Exception | None = None
        for _ in range(self.tries):
            qid = int.from_bytes(os.urandom(2), "big")
            transport, proto = await loop.create_datagram_endpoint(
                _Reply, remote_addr=(self.nameserver, self.port)
            )
            try:
                transport.sendto(build_query(qid, name, qtype))
                return parse_answers(await asyncio.wait_for(proto.future, self.timeout), qid, qtype)
            except (TimeoutError, OSError) as exc:
                last = exc
            finally:
                transport.close()
        raise DnsError(f"no DNS answer for {name} from {self.nameserver}: {last or 'timeout'}")

    async def aaaa(self, name: str) -> list[str]:
        return await self.query(name, TYPE_AAAA)

    async def txt(self, name: str) -> list[str]:
        return await self.query(name, TYPE_TXT)


async def lookup(fly: FlyEnv, resolver: Resolver, *, hub_and_spoke: bool) -> FlyDns:
    """The answers the planner needs. A failed lookup counts as an empty answer and is logged:
    Fly's DNS can lag behind a machine's boot, and the next re-resolve will see the change."""

    failed: list[str] = []

    async def ask(name: str, qtype: int) -> tuple[str, ...]:
        try:
            return tuple(await resolver.query(name, qtype))
        except DnsError as exc:
            log.warning("Fly.io DNS: %s", exc)
            failed.append(name)
            return ()

    if hub_and_spoke:
        regions: tuple[str, ...] = (fly.primary_region,)
    else:
        txt = await ask(fly.regions_name, TYPE_TXT)
        regions = tuple(sorted({r.strip() for t in txt for r in t.replace(" ", ",").split(",") if r.strip()}))
    names = sorted(set(regions) | ({fly.region} if not hub_and_spoke else set()))
    answers = await asyncio.gather(
        ask(fly.group_name, TYPE_AAAA), *(ask(fly.region_name(r), TYPE_AAAA) for r in names)
    )
    return FlyDns(
        regions=regions,
        region_ips=dict(zip(names, answers[1:], strict=True)),
        group_ips=answers[0],
        complete=not failed,
    )

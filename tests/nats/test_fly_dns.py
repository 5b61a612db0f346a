"""The minimal DNS client: packets in and out, a fake nameserver on 127.0.0.1, and `lookup`."""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections.abc import AsyncIterator

import pytest

from core.nats import fly_dns
from core.nats.fly_dns import TYPE_AAAA, TYPE_TXT
from core.nats.topology import FlyEnv
from tests.nats.test_topology import fly_env


def answer(query: bytes, records: list[tuple[int, bytes]], rcode: int = 0) -> bytes:
    """A reply to `query` with (type, rdata) records, names compressed to the question."""
    qid = struct.unpack("!H", query[:2])[0]
    header = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(records), 0, 0)
    body = b"".join(struct.pack("!HHHIH", 0xC00C, rtype, 1, 60, len(data)) + data for rtype, data in records)
    return header + query[12:] + body


def txt(*strings: str) -> bytes:
    return b"".join(bytes([len(s)]) + s.encode() for s in strings)


def aaaa(ip: str) -> bytes:
    return ipaddress.IPv6Address(ip).packed


def test_query_packet() -> None:
    packet = fly_dns.build_query(0x1234, "ams.pb.internal", TYPE_AAAA)
    assert packet[:2] == b"\x12\x34" and b"\x03ams\x02pb\x08internal\x00" in packet
    assert packet.endswith(struct.pack("!HH", TYPE_AAAA, 1))


def test_parse_aaaa_and_txt() -> None:
    query = fly_dns.build_query(7, "x.internal", TYPE_AAAA)
    reply = answer(query, [(TYPE_AAAA, aaaa("fdaa::1")), (TYPE_AAAA, aaaa("fdaa::2")), (TYPE_TXT, txt("x"))])
    assert fly_dns.parse_answers(reply, 7, TYPE_AAAA) == ["fdaa::1", "fdaa::2"]
    query = fly_dns.build_query(8, "regions.pb.internal", TYPE_TXT)
    assert fly_dns.parse_answers(answer(query, [(TYPE_TXT, txt("ams,", "iad"))]), 8, TYPE_TXT) == ["ams,iad"]


def test_nxdomain_is_empty_and_errors_raise() -> None:
    query = fly_dns.build_query(9, "gone.internal", TYPE_AAAA)
    assert fly_dns.parse_answers(answer(query, [], rcode=3), 9, TYPE_AAAA) == []
    with pytest.raises(fly_dns.DnsError, match="code 2"):
        fly_dns.parse_answers(answer(query, [], rcode=2), 9, TYPE_AAAA)
    with pytest.raises(fly_dns.DnsError, match="another query"):
        fly_dns.parse_answers(answer(query, []), 10, TYPE_AAAA)


def test_nameserver_from_resolv_conf(tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "resolv.conf"
    conf.write_text("# fly\nsearch x\nnameserver fdaa::3\n")
    assert fly_dns.system_nameserver(conf) == "fdaa::3"
    assert fly_dns.system_nameserver(tmp_path / "missing") == fly_dns.FLY_NAMESERVER


class FakeNameserver(asyncio.DatagramProtocol):
    def __init__(self, zone: dict[tuple[str, int], list[bytes]]) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[no-untyped-def]
        labels, i = [], 12
        while data[i]:
            labels.append(data[i + 1 : i + 1 + data[i]].decode())
            i += 1 + data[i]
        qtype = struct.unpack("!H", data[i + 1 : i + 3])[0]
        records = self.zone.get((".".join(labels), qtype))
        assert self.transport is not None
        if records == [b"drop"]:
            return  # simulate a lost packet
        reply = answer(data, [(qtype, r) for r in records or []], rcode=0 if records is not None else 3)
        self.transport.sendto(reply, addr)


@pytest.fixture
async def nameserver() -> AsyncIterator[tuple[int, dict[tuple[str, int], list[bytes]]]]:
    zone: dict[tuple[str, int], list[bytes]] = {}
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: FakeNameserver(zone), local_addr=("127.0.0.1", 0)
    )
    yield transport.get_extra_info("sockname")[1], zone
    transport.close()


async def test_lookup_over_udp(nameserver) -> None:  # type: ignore[no-untyped-def]
    port, zone = nameserver
    zone[("regions.pb.internal", TYPE_TXT)] = [txt("ams,iad")]
    zone[("app.process.pb.internal", TYPE_AAAA)] = [aaaa("fdaa::1"), aaaa("fdaa::2"), aaaa("fdaa::3")]
    zone[("ams.pb.internal", TYPE_AAAA)] = [aaaa("fdaa::1"), aaaa("fdaa::2")]
    zone[("iad.pb.internal", TYPE_AAAA)] = [aaaa("fdaa::3"), aaaa("fdaa::9")]
    resolver = fly_dns.Resolver("127.0.0.1", port, timeout=0.5)
    found = await fly_dns.lookup(FlyEnv.from_env(fly_env()), resolver, hub_and_spoke=False)
    assert found.regions == ("ams", "iad")
    assert found.region_ips == {"ams": ("fdaa::1", "fdaa::2"), "iad": ("fdaa::3", "fdaa::9")}
    assert found.group_ips == ("fdaa::1", "fdaa::2", "fdaa::3")
    hub = await fly_dns.lookup(FlyEnv.from_env(fly_env(region="iad")), resolver, hub_and_spoke=True)
    assert hub.regions == ("ams",) and set(hub.region_ips) == {"ams"}


async def test_lookup_survives_a_silent_nameserver(nameserver, caplog) -> None:  # type: ignore[no-untyped-def]
    port, zone = nameserver
    zone[("regions.pb.internal", TYPE_TXT)] = [b"drop"]
    resolver = fly_dns.Resolver("127.0.0.1", port, timeout=0.1, tries=1)
    found = await fly_dns.lookup(FlyEnv.from_env(fly_env()), resolver, hub_and_spoke=False)
    assert found.regions == () and found.region_ips == {"ams": ()}
    assert "no DNS answer for regions.pb.internal" in caplog.text

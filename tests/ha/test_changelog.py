"""The changelog on a real nats-server: compare-and-set appends, retries, reads, following."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.ha.changelog import Changelog, ChangelogError, Message, StreamSettings, WrongLastSequence, settled
from tests.nats.conftest import StartNode


@pytest.fixture
async def changelog(start_node: StartNode, tmp_path: Path) -> Changelog:
    node = await start_node(tmp_path / "n1")
    await node.jetstream_ready()
    log = Changelog(node.js, StreamSettings(name="pbtest"))
    assert (await log.ensure())[1] is True
    return log


async def test_appends_are_compare_and_set_on_the_whole_stream(changelog: Changelog) -> None:
    assert await changelog.append(b"one", msg_id="a:1", expected_last=0, timeout=5) == 1
    with pytest.raises(WrongLastSequence) as lost:
        await changelog.append(b"other", msg_id="b:1", expected_last=0, timeout=5)
    assert lost.value.last == 1
    assert await changelog.append(b"two", msg_id="a:2", expected_last=1, timeout=5) == 2
    # without an expectation (last-writer-wins) the append always lands
    assert await changelog.append(b"three", msg_id="b:2", expected_last=None, timeout=5) == 3
    assert (await changelog.info()).state.last_seq == 3
    # ensure() on an existing stream keeps it as it is
    info, created = await changelog.ensure()
    assert (info.state.messages, created) == (3, False)


async def test_an_append_sent_again_after_a_lost_answer_is_stored_once(changelog: Changelog) -> None:
    first = await changelog.append(b"x", msg_id="node-a:7", expected_last=0, timeout=5)
    again = await changelog.append(b"x", msg_id="node-a:7", expected_last=0, timeout=5)
    assert first == again == 1
    await changelog.append(b"y", msg_id="node-b:1", expected_last=1, timeout=5)
    # a retry that finds another entry after its expected sequence lost for real
    with pytest.raises(WrongLastSequence):
        await changelog.append(b"y", msg_id="node-a:8", expected_last=1, timeout=5)
    # without compare-and-set the server's de-duplication answers
    assert await changelog.append(b"y", msg_id="node-b:1", expected_last=None, timeout=5) == 2
    assert (await changelog.info()).state.messages == 2


async def test_reads_by_sequence(changelog: Changelog) -> None:
    await changelog.append(b"\x00bin\xff", msg_id="m1", expected_last=0, timeout=5)
    await changelog.append(b"two", msg_id="m2", expected_last=1, timeout=5)
    assert await changelog.get(1) == Message(1, b"\x00bin\xff")
    with pytest.raises(ChangelogError, match="not readable yet"):
        await changelog.get(5)  # not there yet: a transient answer, never "trimmed"
    await changelog.js.purge_stream("pbtest", seq=2)
    assert await changelog.get(1) is None  # trimmed below a snapshot: the node needs one


async def test_racing_writers_each_get_in_exactly_once_and_the_log_has_no_holes(changelog: Changelog) -> None:
    per_writer = 15

    async def writer(name: str) -> list[int]:
        seqs, last = [], 0
        for i in range(per_writer):
            while True:
                try:
                    last = await changelog.append(
                        f"{name}{i}".encode(), msg_id=f"{name}:{i}", expected_last=last, timeout=5
                    )
                    seqs.append(last)
                    break
                except WrongLastSequence as lost:
                    assert lost.last is not None and lost.last > last
                    last = lost.last  # catch up (an applier would apply the entries in between)
        return seqs

    won = await asyncio.gather(writer("a"), writer("b"), writer("c"))
    everything = sorted(s for seqs in won for s in seqs)
    assert everything == list(range(1, 3 * per_writer + 1))


async def test_a_follower_gets_every_entry_in_order_from_where_it_starts(changelog: Changelog) -> None:
    for i in range(1, 6):
        await changelog.append(f"e{i}".encode(), msg_id=f"m{i}", expected_last=i - 1, timeout=5)
    got: list[Message] = []
    done = asyncio.Event()

    async def on_message(message: Message) -> None:
        got.append(message)
        if message.seq == 8:
            done.set()

    follower = await changelog.follow(3, on_message)
    try:
        for i in range(6, 9):
            await changelog.append(f"e{i}".encode(), msg_id=f"m{i}", expected_last=i - 1, timeout=5)
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await follower.stop()
    assert [(m.seq, m.data) for m in got] == [(i, f"e{i}".encode()) for i in range(3, 9)]


async def test_nodes_racing_to_create_the_stream_all_join_the_one_that_won(changelog: Changelog) -> None:
    """Each node proposes its own identity; one creation wins and every node ends with it (a
    node whose proposal lost and that finds the stream not placed yet retries, it does not
    crash at start)."""
    for round_ in range(5):
        settings = StreamSettings(name=f"race{round_}")
        logs = [Changelog(changelog.js, settings) for _ in range(4)]
        results = await asyncio.gather(
            *(
                settled("the stream", lambda log=log, i=i: log.ensure({"core_stream_id": f"id{i}"}))
                for i, log in enumerate(logs)
            )
        )
        assert sum(created for _, created in results) == 1
        assert len({str(info.config.metadata["core_stream_id"]) for info, _ in results}) == 1  # type: ignore[index]

"""The publisher against a real nats-server (NatsService, no HTTP): PB_LOGS lives in the app
account, and a dead connection costs counted drops, never a loop."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import nats.js.errors
import pytest

from core.logs.stream import STREAM, LogStream
from tests.nats.conftest import StartNode, start_node  # noqa: F401 - the fixture


async def _until(check, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


def _item(message: str, level: int = 4) -> dict:
    return {
        "id": message,
        "created": "2026-12-08 00:00:00.000Z",
        "data": {},
        "message": message,
        "level": level,
    }


async def test_logs_live_in_the_app_account_and_a_dead_connection_only_drops(
    start_node: StartNode,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="core.logs.stream")
    node = await start_node(tmp_path / "n")
    stream = LogStream("t1", max_age=3600, max_bytes=1 << 20)
    stream.start(node.app_connection)
    try:
        stream.offer(_item("first"))
        await _until(lambda: stream.published == 1)
        app = await node.app_connection()
        msg = await app.jetstream().get_last_msg(STREAM, "pb.logs.t1.warn")
        assert json.loads(msg.data)["message"] == "first"
        # core's own connection is in CORE: the stream is not there, nor reachable from there
        with pytest.raises(nats.js.errors.NotFoundError):
            await node.js.stream_info(STREAM)

        await app.close()  # the publisher's connection is gone for good
        logging.getLogger("nats.aio.client").error("the transport complains")  # not published
        stream.offer(_item("lost"))
        await _until(lambda: stream.dropped == 1)
        await asyncio.sleep(0.2)
        assert stream.dropped == 1 and not stream._queue  # nothing queued itself again
        assert "log streaming dropped 1 log(s) so far" in caplog.text
    finally:
        await stream.stop()


@pytest.mark.slow
async def test_a_burst_beyond_what_the_stream_ingests_at_once_is_stored_whole(
    start_node: StartNode,  # noqa: F811
    tmp_path: Path,
) -> None:
    """With `sync_interval: always` the stream stores about a thousand logs a second here: a
    burst of plain publishes overran its ingest queue and lost some without a trace. The
    publisher waits for acks (a window), so the whole burst is stored, or counted as dropped."""
    node = await start_node(tmp_path / "n")
    stream = LogStream("burst", max_age=3600, max_bytes=1 << 30)
    stream.start(node.app_connection)
    count = 8000  # within the queue's bound: nothing may be dropped
    try:
        for n in range(count):
            stream.offer(_item(f"m{n}", level=0))
            if n % 500 == 0:
                await asyncio.sleep(0)
        await _until(lambda: stream.published + stream.dropped >= count, timeout=120)
        app = await node.app_connection()
        info = await app.jetstream().stream_info(STREAM)
        assert (stream.dropped, stream.published, info.state.messages) == (0, count, count)
    finally:
        await stream.stop()


async def test_what_is_queued_at_stop_is_still_published(
    start_node: StartNode,  # noqa: F811
    tmp_path: Path,
) -> None:
    node = await start_node(tmp_path / "n")
    stream = LogStream("bye", max_age=3600, max_bytes=1 << 20)
    stream.start(node.app_connection)
    stream.offer(_item("hello"))
    await _until(lambda: stream.published == 1)
    for n in range(20):
        stream.offer(_item(f"last{n}"))
    await stream.stop()
    assert (stream.published, stream.dropped) == (21, 0)
    app = await node.app_connection()
    assert (await app.jetstream().stream_info(STREAM)).state.messages == 21

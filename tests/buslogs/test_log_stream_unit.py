"""The log publisher's pure parts: subjects, item shape, the bounded queue, no feedback loop."""

from __future__ import annotations

import logging
import sys

from core.logs import stream as log_stream
from core.logs.stream import LogStream


def test_subjects_are_one_token_per_node_and_level() -> None:
    assert log_stream.subject("n1", 0) == "pb.logs.n1.info"
    assert log_stream.subject("fly.machine", 8) == "pb.logs.fly_machine.error"
    assert log_stream.subject("a*b>c", -4) == "pb.logs.a_b_c.debug"
    assert log_stream.subject("n1", 4) == "pb.logs.n1.warn"
    assert log_stream.subject("n1", 5) == "pb.logs.n1.warn"


def test_python_records_become_api_log_items() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "core.x", logging.ERROR, __file__, 1, "failed %s", ("thing",), sys.exc_info()
        )
    item = log_stream.item_of_record(record)
    assert list(item) == ["id", "created", "data", "message", "level"]
    assert item["message"] == "failed thing" and item["level"] == 8
    assert item["data"]["logger"] == "core.x" and "ValueError: boom" in item["data"]["error"]
    warn = logging.LogRecord("core.x", logging.WARNING, __file__, 1, "w", (), None)
    assert (
        log_stream.item_of_record(warn)["level"] == 4
        and "error" not in log_stream.item_of_record(warn)["data"]
    )


def _item(n: int) -> dict:
    return {"id": str(n), "level": 0, "message": f"m{n}", "data": {}, "created": "c"}


def test_a_full_queue_drops_the_oldest_and_counts(monkeypatch) -> None:
    monkeypatch.setattr(log_stream, "QUEUE_LIMIT", 3)
    stream = LogStream("n", max_age=60, max_bytes=1 << 20)
    for n in range(5):
        stream.offer(_item(n))  # no loop, no NATS: offering never waits
    assert stream.dropped == 2
    assert [data for _, data in stream._queue] == [
        b'{"id":"2","created":"c","data":{},"message":"m2","level":0}',
        b'{"id":"3","created":"c","data":{},"message":"m3","level":0}',
        b'{"id":"4","created":"c","data":{},"message":"m4","level":0}',
    ]


def test_the_publisher_does_not_publish_its_own_lines() -> None:
    stream = LogStream("n", max_age=60, max_bytes=1 << 20)
    handler = log_stream._Handler(stream)
    other = logging.getLogger("tests.buslogs.other")
    other.setLevel(logging.DEBUG)
    for logger in (log_stream.log, other):
        logger.addHandler(handler)
    try:
        log_stream.log.warning("log streaming waits for NATS")
        assert not stream._queue
        other.warning("x")
        other.debug("below the handler's level")
    finally:
        for logger in (log_stream.log, other):
            logger.removeHandler(handler)
    assert [subject for subject, _ in stream._queue] == ["pb.logs.n.warn"]

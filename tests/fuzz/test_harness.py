"""The fuzz harness's own checks, without a server: they must reject what they are there to catch."""

from __future__ import annotations

import pytest

from tests.fuzz.checks import check_answer, crash_line
from tests.fuzz.wire import _parse

SHAPED = b'{"data":{},"message":"Bad.","status":400}'

pytestmark = pytest.mark.usefixtures("raising")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, SHAPED.replace(b"400", b"500")),
        (400, b"Bad Request"),
        (400, b'{"message":"Bad.","status":400}'),
        (400, b'{"data":{},"message":"Bad.","status":400,"code":1}'),
        (404, SHAPED),
        (400, b'{"data":[],"message":"Bad.","status":400}'),
        (400, b'{"data":{},"message":"","status":400}'),
    ],
)
def test_bad_answers_are_caught(status: int, body: bytes) -> None:
    with pytest.raises(AssertionError):
        check_answer(status, body, "sig", "ctx")


@pytest.mark.parametrize(("status", "body"), [(400, SHAPED), (200, b"[]"), (204, b""), (302, b"")])
def test_good_answers_pass(status: int, body: bytes) -> None:
    check_answer(status, body, "sig", "ctx")


def test_crash_line_names_the_exception() -> None:
    log = "x\nTraceback (most recent call last):\n  File a\n    code\nValueError: unsafe file path\nmore"
    assert crash_line(log) == "ValueError: unsafe file path"


def test_parse_waits_for_the_whole_answer() -> None:
    head = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\n\r\n"
    assert _parse(head + b"ab") is None
    answer = _parse(head + b"abcde")
    assert answer is not None and (answer.status, answer.body) == (400, b"abcde")


def test_parse_head_interim_and_chunked() -> None:
    head_answer = _parse(b"HTTP/1.1 200 OK\r\ncontent-length: 52\r\n\r\n", to_head=True)
    assert head_answer is not None and head_answer.status == 200
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    assert _parse(interim) is None
    chunked = interim + b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    answer = _parse(chunked)
    assert answer is not None and (answer.status, answer.body) == (201, b"abc")


def test_parse_close_without_answer() -> None:
    closed = _parse(b"", closed=True)
    assert closed is not None and closed.status is None

"""Raw bytes over a socket: an answer or a closed connection within a bound, never a hang or a 5xx.

A request that reached the API and failed gets PocketBase's JSON error shape; one the HTTP layer
refused may answer in plain text (Go's net/http does too) but only with a 4xx, or 505 for a
version it does not speak. Whatever the bytes, a write that was not answered 2xx changed
nothing, and the server still answers the next client.
"""

from __future__ import annotations

from hypothesis import event, given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz_settings
from tests.fuzz.checks import (
    check_error_body,
    check_log,
    check_unchanged,
    crash_line,
    expect,
    log_size,
    new_log,
    settled_snapshot,
    snapshot,
)
from tests.fuzz.schema import POSTS, Fixture
from tests.fuzz.wire import RawRequest, exchange, raw_requests

# far above any honest answer on loopback; only a connection left waiting reaches it
BOUND = 5.0


@fuzz_settings(examples=80)
@given(data=st.data())
def test_http1_requests(fx: Fixture, data: st.DataObject) -> None:
    _check_exchange(fx, data.draw(raw_requests(fx.ids[POSTS][0], str(fx.tokens["superuser"]), http1=True)))


# separate from the above so that one open bug in either does not hide the other's
@fuzz_settings(examples=20)
@given(data=st.data())
def test_not_http1(fx: Fixture, data: st.DataObject) -> None:
    _check_exchange(fx, data.draw(raw_requests(fx.ids[POSTS][0], str(fx.tokens["superuser"]), http1=False)))


def _check_exchange(fx: Fixture, request: RawRequest) -> None:
    since, before = log_size(fx), snapshot(fx)
    signature = f"raw {request.signature or request.note}"
    where = f"{request.note}\nsent: {request.data[:3000]!r}"
    try:
        answer = exchange("127.0.0.1", fx.server.port, request.data, BOUND, request.half_close)
    except TimeoutError as exc:
        expect(False, "hang: no answer and no close", signature, f"{exc}\n{where}")
        return
    event(f"raw {answer.status}")
    where += f"\n-> {answer.raw[:2000]!r}"
    log = new_log(fx, since)
    status = answer.status
    if status is not None:
        expect(
            status < 500 or status == 505, "server error", f"{signature} {status} {crash_line(log)}", where
        )
        has_body = not request.data.startswith(b"HEAD ")  # an answer to HEAD never has one
        if 400 <= status < 500 and has_body and "json" in answer.headers.get("content-type", ""):
            check_error_body(status, answer.body, f"{signature} {status}", where)
    check_log(log, signature, where)
    if status is None or not 200 <= status < 300:
        # a connection closed with no answer says nothing of the handler, which may still be
        # writing: compare once the data stops changing (waiting longer can only miss, never
        # invent, a write)
        after = settled_snapshot(fx) if status is None else snapshot(fx)
        check_unchanged(before, after, f"{signature} {status}", where)
    health = fx.http.get("/api/health")
    expect(health.status_code == 200, "the server stopped answering", signature, where)

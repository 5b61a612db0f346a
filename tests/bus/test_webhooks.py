"""Webhooks: a real `core serve` POSTing to a real HTTP server on loopback."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from core.bus.webhooks import verify
from tests.bus.conftest import Core, Receiver, start

SECRET = "a-webhook-secret-0123456789"


def add_hook(core: Core, url: str, **extra: Any) -> dict[str, Any]:
    hook = {"url": url, "collections": ["posts"], "secret": SECRET, **extra}
    resp = core.http.patch("/api/settings", json={"webhooks": [hook]})
    assert resp.status_code == 200, resp.text
    (saved,) = resp.json()["webhooks"]
    assert "secret" not in saved  # never sent back
    return dict(saved)


def remove_hooks(core: Core) -> None:
    core.http.patch("/api/settings", json={"webhooks": []}).raise_for_status()


def test_signed_ordered_deliveries(core: Core, receiver: Receiver) -> None:
    add_hook(core, receiver.url, actions=["create", "update"], filter="title != 'skip me'")
    try:
        post = core.http.post("/api/collections/posts/records", json={"title": "a"}).json()
        for title in ("b", "c", "d"):
            core.http.patch(
                f"/api/collections/posts/records/{post['id']}", json={"title": title}
            ).raise_for_status()
        core.http.post("/api/collections/posts/records", json={"title": "skip me"}).raise_for_status()
        core.http.delete(f"/api/collections/posts/records/{post['id']}").raise_for_status()  # not an action
        last = core.http.post("/api/collections/posts/records", json={"title": "z"}).json()
        requests = receiver.wait_for(5)
        time.sleep(0.5)  # nothing more may come
        assert len(receiver.requests) == 5
        bodies = receiver.bodies()
        assert [(b["action"], b["record"]["title"]) for b in bodies] == [
            ("create", "a"),
            ("update", "b"),
            ("update", "c"),
            ("update", "d"),
            ("create", "z"),
        ]
        assert bodies[-1]["record"]["id"] == last["id"]
        for req in requests:
            headers = {k.lower(): v for k, v in req["headers"].items()}
            assert verify(SECRET, req["body"], headers["x-core-signature"])
            assert not verify("another-secret-0123456789", req["body"], headers["x-core-signature"])
            assert headers["x-core-event-id"] and headers["x-core-attempt"] == "1"
        # a replayed request (an old timestamp) is rejected by the receiver's check
        old = requests[0]["headers"]["X-Core-Signature"]
        assert not verify(SECRET, requests[0]["body"], old, now=time.time() + 3600)
        assert not verify(SECRET, requests[0]["body"] + b" ", old)
    finally:
        remove_hooks(core)


def test_failing_receiver_gets_retries_with_backoff_then_a_parked_delivery(
    core: Core, receiver: Receiver
) -> None:
    receiver.status = 500
    hook = add_hook(core, receiver.url, maxAttempts=3, backoff=1)
    try:
        post = core.http.post("/api/collections/posts/records", json={"title": "doomed"}).json()
        requests = receiver.wait_for(3)
        assert [r["headers"]["X-Core-Attempt"] for r in requests] == ["1", "2", "3"]
        # the delays double: about 1 s, then about 2 s (JetStream redelivers after the nak delay)
        gaps = [b["at"] - a["at"] for a, b in zip(requests, requests[1:], strict=False)]
        assert gaps[0] >= 0.9 and gaps[1] >= 1.8, gaps
        deadline = time.monotonic() + 10
        while True:
            page = core.http.get("/api/webhooks/deliveries").json()
            if page["totalItems"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert page["totalItems"] == 1, page
        (item,) = page["items"]
        assert item["webhook"] == hook["id"] and item["recordId"] == post["id"]
        assert item["attempts"] == 3 and item["status"] == 500 and item["action"] == "create"
        # the hook moved on: the next event is delivered once the receiver recovers
        receiver.status = 200
        core.http.post("/api/collections/posts/records", json={"title": "next"}).raise_for_status()
        requests = receiver.wait_for(4)
        assert receiver.bodies()[3]["record"]["title"] == "next"
        only = core.http.get(f"/api/webhooks/deliveries?webhook={hook['id']}").json()
        assert only["totalItems"] == 1
    finally:
        remove_hooks(core)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_a_restart_loses_no_delivery(tmp_path: Any, receiver: Receiver, how: str) -> None:
    core = start(tmp_path / "data")
    try:
        receiver.status = 500
        add_hook(core, receiver.url, maxAttempts=50, backoff=1)
        for title in ("r1", "r2", "r3"):
            core.http.post("/api/collections/posts/records", json={"title": title}).raise_for_status()
        receiver.wait_for(2)  # the first event is being retried
        if how == "kill9":
            core.server.kill9()
        core.restart()
        receiver.status = 200

        def delivered() -> list[str]:
            return [json.loads(r["body"])["record"]["title"] for r in receiver.requests if r["status"] == 200]

        with receiver.arrived:
            # after a crash mid-POST the event waits out the consumer's ack wait (15 s)
            assert receiver.arrived.wait_for(lambda: len(delivered()) >= 3, 60), receiver.bodies()
        assert delivered() == ["r1", "r2", "r3"]
    finally:
        core.server.stop()


def test_a_disabled_hook_pauses_and_a_removed_one_stops(core: Core, receiver: Receiver) -> None:
    hook = add_hook(core, receiver.url)
    try:
        core.http.post("/api/collections/posts/records", json={"title": "first"}).raise_for_status()
        receiver.wait_for(1)
        paused = core.http.patch("/api/settings", json={"webhooks": [{**hook, "disabled": True}]})
        assert paused.status_code == 200, paused.text
        core.http.post("/api/collections/posts/records", json={"title": "while paused"}).raise_for_status()
        time.sleep(1.0)  # a paused hook would have delivered by now
        assert len(receiver.requests) == 1
        # enabled again (the secret is not sent back: the stored one stays)
        core.http.patch("/api/settings", json={"webhooks": [hook]}).raise_for_status()
        receiver.wait_for(2)
        bodies = receiver.bodies()
        assert bodies[1]["record"]["title"] == "while paused"
        assert verify(
            SECRET, receiver.requests[1]["body"], receiver.requests[1]["headers"]["X-Core-Signature"]
        )
        remove_hooks(core)
        core.http.post("/api/collections/posts/records", json={"title": "after removal"}).raise_for_status()
        time.sleep(1.0)
        assert len(receiver.requests) == 2
    finally:
        remove_hooks(core)

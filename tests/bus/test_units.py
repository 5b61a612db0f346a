"""The pure pieces: signatures, consumer filters, creds permissions, the stream flags."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.bus import settings
from core.bus.webhooks import filter_subjects, sign, verify
from core.config import ConfigError
from core.nats import creds, jwt, nkey
from tests.nats.conftest import run_cli


def test_signature_verifies_and_refuses_replays_and_tampering() -> None:
    body = b'{"action":"create"}'
    now = int(time.time())
    header = sign("s3cret-s3cret-s3cret", body, now)
    assert header.startswith(f"t={now},v1=")
    assert verify("s3cret-s3cret-s3cret", body, header)
    assert not verify("s3cret-s3cret-s3cret", body + b"x", header)
    assert not verify("other", body, header)
    assert not verify("s3cret-s3cret-s3cret", body, header, now=now + 301)  # too old: a replay
    assert not verify("s3cret-s3cret-s3cret", body, "garbage")


@pytest.mark.parametrize(
    ("hook", "subjects"),
    [
        ({"collections": ["*"]}, ["pb.events.>"]),
        ({"collections": ["posts"], "actions": ["delete"]}, ["pb.events.posts.delete"]),
        (
            {"collections": ["Posts", "users"], "actions": ["create", "update"]},
            [
                "pb.events.posts.create",
                "pb.events.posts.update",
                "pb.events.users.create",
                "pb.events.users.update",
            ],
        ),
    ],
)
def test_consumer_filters(hook: dict[str, object], subjects: list[str]) -> None:
    assert filter_subjects(hook, str.lower) == subjects


def test_events_user_permissions() -> None:
    pub, sub = creds.events_permissions("my app.1", ["posts", "comments"])
    assert sub == ["pb.events.posts.>", "pb.events.comments.>", "_INBOX.>"]
    assert "$JS.API.CONSUMER.CREATE.PB_EVENTS.my_app_1.pb.events.posts.>" in pub
    assert "$JS.API.CONSUMER.MSG.NEXT.PB_EVENTS.my_app_1" in pub
    assert not any(s.startswith("pb.events") for s in pub)
    everything, _ = creds.events_permissions("all", ["*"])
    assert "$JS.API.CONSUMER.CREATE.PB_EVENTS.all.pb.events.>" in everything
    issued = creds.issue(nkey.new_seed("account"), "x", pub_allow=pub, pub_deny=["pb.events.>"])
    claims = jwt.decode(issued.jwt, kind="user")
    assert claims["nats"]["pub"]["deny"] == ["pb.events.>"]
    assert "deny" not in claims["nats"]["sub"]


def test_stream_flags() -> None:
    class Args:
        events_max_age = "36h"
        events_max_bytes = "2GiB"
        events_hidden = "Posts, secrets"

    got = settings.from_args(Args(), {})
    assert (got.max_age, got.max_bytes, got.hidden) == (36 * 3600, 2 << 30, frozenset({"posts", "secrets"}))
    env = settings.from_args(None, {"CORE_EVENTS_MAX_BYTES": "1024"})
    assert env.max_bytes == 1024 and env.max_age == 7 * 86400
    with pytest.raises(ConfigError, match="--events-max-bytes"):
        settings.from_args(type("A", (), {"events_max_bytes": "lots"})(), {})
    with pytest.raises(ConfigError, match="CORE_EVENTS_MAX_AGE"):
        settings.from_args(None, {"CORE_EVENTS_MAX_AGE": "soon"})
    assert not settings.from_args(None, {}).enabled  # opt-in: they cost every write an fsync'd message
    assert settings.from_args(None, {"CORE_EVENTS": "true"}).enabled
    assert not settings.from_args(None, {"CORE_EVENTS": "false"}).enabled
    assert settings.from_args(type("A", (), {"events": True})(), {}).enabled
    assert not settings.from_args(type("A", (), {"no_events": True})(), {"CORE_EVENTS": "true"}).enabled
    assert settings.serve_flags(type("A", (), {"events": True})()) == ["--events"]
    assert settings.serve_flags(type("A", (), {"no_events": True, "events_max_age": "1h"})()) == [
        "--no-events",
        "--events-max-age",
        "1h",
    ]
    with pytest.raises(ConfigError, match="CORE_EVENTS"):
        settings.from_args(None, {"CORE_EVENTS": "maybe"})


def test_creds_events_flag_errors(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert run_cli("auth", "init", "--dir", data).returncode == 0
    bad = run_cli("creds", "x", "--dir", data, "--events", "posts,no-such.thing")
    assert bad.returncode == 2 and "'no-such.thing' is not a collection name" in bad.stderr
    empty = run_cli("creds", "x", "--dir", data, "--events", " , ")
    assert empty.returncode == 2 and "--events" in empty.stderr
    added = run_cli("account", "add", "other", "--dir", data, "--nats-url", "nats://127.0.0.1:1")
    assert added.returncode == 0, added.stderr
    other = run_cli("creds", "x", "--dir", data, "--account", "other", "--events", "posts")
    assert other.returncode == 2 and "record events live in the app account" in other.stderr
    good = run_cli("creds", "x", "--dir", data, "--events", "posts")
    assert good.returncode == 0 and "consumer name: x" in good.stderr
    claims = jwt.decode(creds.parse(good.stdout).jwt, kind="user")["nats"]
    assert claims["pub"]["deny"] == ["core.>", "pb.events.>"]
    assert claims["sub"]["allow"] == ["pb.events.posts.>", "_INBOX.>"]

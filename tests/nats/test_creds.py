"""The .creds file format and durations."""

from __future__ import annotations

import stat

import pytest

from core.nats import creds, jwt, nkey


def test_issue_and_format_like_nsc() -> None:
    account = nkey.new_seed("account")
    issued = creds.issue(account, "alice", pub_allow=["orders.>"], expires_in=3600, now=1000)
    text = issued.text()
    assert "\r" not in text
    lines = text.split("\n")
    # nats-py reads the line right after each BEGIN marker.
    assert lines[0] == "-----BEGIN NATS USER JWT-----" and lines[1] == issued.jwt
    assert lines[2] == "------END NATS USER JWT------"
    seed_at = lines.index("-----BEGIN USER NKEY SEED-----")
    assert lines[seed_at + 1] == issued.seed and lines[seed_at + 2] == "------END USER NKEY SEED------"
    claims = jwt.decode(issued.jwt, kind="user")
    assert claims["iss"] == nkey.public_key(account)
    assert claims["sub"] == nkey.public_key(issued.seed)
    assert claims["exp"] == 4600 and claims["nats"]["pub"] == {"allow": ["orders.>"]}
    assert creds.parse(text) == issued
    assert creds.parse(text.replace("\n", "\r\n")) == issued


def test_parse_rejects_other_text() -> None:
    with pytest.raises(ValueError, match="not a creds file"):
        creds.parse("hello")


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("90s", 90),
        ("30m", 1800),
        ("24h", 86400),
        ("7d", 604800),
        ("1w", 604800),
        ("1h30m", 5400),
        (" 2H ", 7200),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert creds.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "1x", "-1h", "0s", "1h 30m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        creds.parse_duration(text)


def test_write_secret_is_owner_only_and_atomic(tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "sub" / "x.creds"
    creds.write_secret(target, "one")
    creds.write_secret(target, "two")
    assert target.read_text() == "two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["x.creds"]

"""The `.creds` file (nsc's layout) and user issuance: a user JWT plus its seed.

nats-py reads the line right after each BEGIN marker and cuts exactly one trailing byte, so the
file must use LF line endings; the server and the Go client accept any dash-framed block.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.nats import jwt, nkey

_TEMPLATE = """-----BEGIN NATS USER JWT-----
{jwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
{seed}
------END USER NKEY SEED------

*************************************************************
"""
_BLOCK = re.compile(r"-{3,}[^\n]*BEGIN[^\n]*-{3,}\n\s*(\S+)\s*\n\s*-{3,}[^\n]*END[^\n]*-{3,}")
_DURATION = re.compile(r"(\d+)([smhdwy])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


@dataclass(frozen=True)
class Creds:
    jwt: str
    seed: str

    def text(self) -> str:
        return _TEMPLATE.format(jwt=self.jwt, seed=self.seed)


def parse(text: str) -> Creds:
    blocks = _BLOCK.findall(text.replace("\r\n", "\n"))
    if len(blocks) < 2:
        raise ValueError("not a creds file: expected a JWT block and a seed block")
    return Creds(jwt=blocks[0], seed=blocks[1])


def parse_duration(text: str) -> int:
    """Seconds in a duration like `90s`, `30m`, `24h`, `7d`, `1w`, `1y` or `1h30m`."""
    value = text.strip().lower()
    parts = _DURATION.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 24h, 7d)")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"a duration must be positive: {text!r}")
    return seconds


def issue(
    account_seed: str,
    name: str,
    *,
    pub_allow: Iterable[str] = (),
    sub_allow: Iterable[str] = (),
    deny: Iterable[str] = (),
    pub_deny: Iterable[str] = (),
    expires_in: int | None = None,
    now: int | None = None,
) -> Creds:
    """A new user of the account whose seed is `account_seed`, with its own fresh key.
    `pub_deny` subjects are refused for publishing only (subscribing to them stays allowed)."""
    issued_at = int(time.time()) if now is None else now
    user_seed = nkey.new_seed("user")
    claims = jwt.user_claims(
        name,
        nkey.public_key(user_seed),
        pub_allow=pub_allow,
        sub_allow=sub_allow,
        deny=deny,
        expires_at=None if expires_in is None else issued_at + expires_in,
    )
    if pub_deny:
        pub = claims["nats"]["pub"]
        pub["deny"] = [*pub.get("deny", []), *pub_deny]
    return Creds(jwt=jwt.encode(claims, account_seed, now=issued_at), seed=user_seed)


def write_secret(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# Record events (core/bus/events.py): the stream core publishes to, and what an `--events` user
# may do with it. Only core publishes there.
EVENTS_STREAM = "PB_EVENTS"
EVENTS_SUBJECTS = "pb.events.>"
_CONSUMER_NAME = re.compile(r"[^A-Za-z0-9_-]")


def events_consumer(name: str) -> str:
    """The one consumer name an `--events` user may create, read and delete: its own, so that it
    can never pull from (or ack) another user's consumer or core's webhook consumers."""
    return _CONSUMER_NAME.sub("_", name)[:64] or "events"


def events_permissions(name: str, collections: Iterable[str]) -> tuple[list[str], list[str]]:
    """(publish, subscribe) allow lists to read the events of `collections` (`*`: all of them).

    Consumers are created through `$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>` (nats-server
    2.9+, what nats-py's pull_subscribe sends), so the filter is part of the subject the
    permission checks; the other creation subjects, which carry no filter, are not allowed.
    """
    names = [c.strip() for c in collections if c.strip()]
    filters = [EVENTS_SUBJECTS] if "*" in names else [f"pb.events.{c}.>" for c in names]
    consumer = events_consumer(name)
    api = "$JS.API.CONSUMER"
    pub = [f"{api}.CREATE.{EVENTS_STREAM}.{consumer}.{f}" for f in filters] + [
        f"{api}.MSG.NEXT.{EVENTS_STREAM}.{consumer}",
        f"{api}.INFO.{EVENTS_STREAM}.{consumer}",
        f"{api}.DELETE.{EVENTS_STREAM}.{consumer}",
        f"$JS.ACK.{EVENTS_STREAM}.{consumer}.>",
        f"$JS.API.STREAM.INFO.{EVENTS_STREAM}",
    ]
    return pub, [*filters, "_INBOX.>"]

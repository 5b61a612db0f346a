"""Request rate limiting as PocketBase does it: labelled rules, fixed windows per client IP.

A rule (`settings.rateLimits.rules[]`) has a `label`, an `audience` ("" everyone, "@guest",
"@auth"), a `duration` in seconds and `maxRequests`. A request is matched against a list of
labels, most specific first (`users:auth`, `*:auth`, `POST /api/x`, `/api/x`); the first label
with a rule wins, and a label ending in "/" matches as a path prefix.

Pure and app-agnostic: the API middleware decides the labels, this module counts. Counters are
in process memory, like PocketBase's (a restart forgets them).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

AUDIENCE_ALL = ""
AUDIENCE_GUEST = "@guest"
AUDIENCE_AUTH = "@auth"

# a client idle this long past its window is forgotten (PocketBase: rule duration + 30 min)
FORGET_AFTER_S = 1800
_CLEAN_EVERY_S = 60


@dataclass(frozen=True)
class Rule:
    label: str
    audience: str
    duration: int
    max_requests: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rule:
        return cls(
            label=str(data.get("label") or ""),
            audience=str(data.get("audience") or ""),
            duration=int(data.get("duration") or 0),
            max_requests=int(data.get("maxRequests") or 0),
        )


def find_rule(rules: Sequence[Rule], labels: Sequence[str], audiences: Iterable[str] = ()) -> Rule | None:
    """The first rule matching the labels in order: exact label first, then "/"-ending prefixes."""
    allowed = set(audiences)
    ok = [r for r in rules if not allowed or r.audience in allowed]
    prefixes = [r for r in ok if r.label.endswith("/")]
    for label in labels:
        for rule in ok:
            if rule.label == label:
                return rule
        for rule in prefixes:
            if (label + "/").startswith(rule.label):
                return rule
    return None


def audiences_for(authenticated: bool) -> tuple[str, str]:
    return (AUDIENCE_ALL, AUDIENCE_AUTH) if authenticated else (AUDIENCE_ALL, AUDIENCE_GUEST)


def applies_to(rule: Rule, authenticated: bool) -> bool:
    if rule.audience == AUDIENCE_GUEST:
        return not authenticated
    if rule.audience == AUDIENCE_AUTH:
        return authenticated
    return True


def ip_excluded(ip: str, excluded: Iterable[str]) -> bool:
    """Whether `ip` is one of `excluded` (plain addresses or CIDR subnets)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for item in excluded:
        try:
            if addr in ipaddress.ip_network(str(item).strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


class FixedWindow:
    """`max_allowed` requests, refilled once `interval` seconds have passed since the last one allowed."""

    __slots__ = ("available", "interval", "last_consume", "max_allowed")

    def __init__(self, max_allowed: int, interval: int) -> None:
        self.max_allowed = max_allowed
        self.interval = interval
        self.available = 0
        self.last_consume = float("-inf")  # the first request always opens a window

    def consume(self, now: float) -> bool:
        if now - self.last_consume >= self.interval:
            self.available = self.max_allowed
        if self.available > 0:
            self.available -= 1
            self.last_consume = now
            return True
        return False


class RateLimiters:
    """Every limiter of the process, by id (rule label + audience, or a route-specific key)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, int, int], dict[str, FixedWindow]] = {}
        self._last_clean = 0.0

    def allow(self, limiter_id: str, client: str, max_requests: int, duration: int) -> bool:
        """Count one request of `client`; False when its window is already used up."""
        now = self._clock()
        if now - self._last_clean > _CLEAN_EVERY_S:
            self._clean(now)
        # the rule's numbers are part of the key: editing a rule starts fresh counters
        clients = self._windows.setdefault((limiter_id, max_requests, duration), {})
        window = clients.get(client)
        if window is None:
            window = clients[client] = FixedWindow(max_requests, duration)
        return window.consume(now)

    def reset(self) -> None:
        self._windows.clear()

    def _clean(self, now: float) -> None:
        self._last_clean = now
        for key in list(self._windows):
            clients = self._windows[key]
            for client in [
                c for c, w in clients.items() if now - w.last_consume > w.interval + FORGET_AFTER_S
            ]:
                del clients[client]
            if not clients:
                del self._windows[key]


class Cooldowns:
    """Keys that stay set for a while (PocketBase's "already requested, try again later" guards)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}

    def active(self, key: str) -> bool:
        until = self._until.get(key)
        if until is None:
            return False
        if until <= self._clock():
            del self._until[key]
            return False
        return True

    def start(self, key: str, seconds: float) -> None:
        now = self._clock()
        if len(self._until) > 10_000:  # drop expired keys now and then
            self._until = {k: u for k, u in self._until.items() if u > now}
        self._until[key] = now + seconds

    def clear(self, key: str) -> None:
        self._until.pop(key, None)

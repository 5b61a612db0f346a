"""CORS and security headers, outside everything else (the hot record routes included).

PocketBase 0.40.6, as its binary answers:
- every response: `Vary: Origin`, and the security headers below; with an `Origin` the allowed
  origin goes in `Access-Control-Allow-Origin` (`*` itself when the list allows any);
- every OPTIONS request is a preflight answered here with 204 (any path, never logged nor rate
  limited): with an allowed `Origin` it adds the allowed methods, the requested headers echoed,
  and `Vary` for both request headers; a disallowed or missing `Origin` gets no CORS header;
- `--origins` (default `*`) holds exact origins, `scheme://*.domain` subdomain wildcards and
  `*`/`?` glob patterns.
Not a route module.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = [
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-xss-protection", b"1; mode=block"),
]
ALLOW_METHODS = b"GET,HEAD,PUT,PATCH,POST,DELETE"
_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
_VARY_ORIGIN = (b"vary", b"Origin")
_ALWAYS = [_VARY_ORIGIN, *SECURITY_HEADERS]
_MAX_CACHED_ORIGINS = 1024
_MAX_PATTERN_ORIGIN = 253 + 3 + 5  # a host name, "://" and a port: longer origins skip the patterns


class CorsPolicy:
    def __init__(self, origins: Sequence[str]) -> None:
        self.origins = list(origins) or ["*"]
        self.patterns = [_glob(o) for o in self.origins if o != "*"]

    def allowed(self, origin: str) -> str | None:
        """The `Access-Control-Allow-Origin` value for this request origin, or None."""
        for candidate in self.origins:
            if candidate == "*" or candidate == origin:
                return candidate
            if _subdomain_of(origin, candidate):
                return origin
        patterned = len(origin) <= _MAX_PATTERN_ORIGIN and "://" in origin
        if patterned and any(p.fullmatch(origin) for p in self.patterns):
            return origin
        return None


def _glob(origin: str) -> re.Pattern[str]:
    return re.compile(re.escape(origin).replace(r"\*", ".*").replace(r"\?", "."), re.DOTALL)


def _subdomain_of(origin: str, pattern: str) -> bool:
    """`https://a.b.example.com` against `https://*.example.com`: same scheme, then the host
    labels compared from the right until a `*` label (which matches the rest, not nothing)."""
    scheme, sep, host = origin.partition("://")
    p_scheme, p_sep, p_host = pattern.partition("://")
    if not sep or not p_sep or scheme != p_scheme or len(host) > 253:
        return False
    labels, p_labels = host.split(".")[::-1], p_host.split(".")[::-1]
    for i, label in enumerate(labels):
        if i >= len(p_labels):
            return False
        if p_labels[i] == "*":
            return True
        if p_labels[i] != label:
            return False
    return False


class ResponseHeaders:
    """Answers preflights; adds CORS and security headers to every other response of `inner`."""

    def __init__(self, inner: ASGIApp, origins: Sequence[str]) -> None:
        self.inner = inner
        self.policy = CorsPolicy(origins)
        # the headers added for each `Origin` seen (a browser app sends the same few): matching
        # origins per request cost more than the rest of this wrapper
        self._extra: dict[bytes, list[tuple[bytes, bytes]]] = {b"": _ALWAYS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        origin = header_value(scope, b"origin")
        if scope["method"] == "OPTIONS":
            await _preflight(scope, self.policy.allowed(origin.decode("latin-1")) if origin else None, send)
            return
        extra = self._extra.get(origin)
        if extra is None:
            extra = self._extra_for(origin)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merged(message.get("headers") or (), extra)
            await send(message)

        await self.inner(scope, receive, send_with_headers)

    def _extra_for(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        allowed = self.policy.allowed(origin.decode("latin-1"))
        extra = _ALWAYS if allowed is None else [(b"access-control-allow-origin", allowed.encode()), *_ALWAYS]
        if len(self._extra) < _MAX_CACHED_ORIGINS:
            self._extra[origin] = extra
        return extra


def _merged(headers: Any, extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` + `extra`; a security header the route set itself wins (the /ds pages deny
    framing altogether), so each goes out once. ASGI header names are lower case."""
    for name, _ in headers:
        if name in _SECURITY_NAMES:
            own = {n for n, _ in headers}
            return [*headers, *(h for h in extra if h[0] not in own)]
    return [*headers, *extra]


async def _preflight(scope: Scope, allowed: str | None, send: Send) -> None:
    headers = [_VARY_ORIGIN]
    if allowed is not None:
        headers += [
            (b"access-control-allow-origin", allowed.encode()),
            (b"vary", b"Access-Control-Request-Method"),
            (b"vary", b"Access-Control-Request-Headers"),
            (b"access-control-allow-methods", ALLOW_METHODS),
        ]
        requested = header_value(scope, b"access-control-request-headers")
        if requested:
            headers.append((b"access-control-allow-headers", requested))
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def header_value(scope: Scope, name: bytes) -> bytes:
    """The value of request header `name` (lower case), or b"" when the request has none."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""

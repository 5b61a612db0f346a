"""One request log entry, built the way PocketBase's activity logger builds it.

`data` holds type, method, url, status, execTime (ms), auth (collection name or ""), authId
(only with `logs.logAuthId`), userIP/remoteIP (only with `logs.logIP`), referer, userAgent and,
for failed requests, error and details. Secrets never get in: no bodies, no headers other than
Referer and User-Agent, and the values of secret-bearing query parameters (`?token=` file and
backup tokens, OAuth2 `code`s) are replaced by `***` in both the url and the message.
"""

from __future__ import annotations

import ipaddress
import json
import random
import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from core.store.times import now_str

LEVEL_INFO = 0
LEVEL_ERROR = 8

REDACTED = "***"
SECRET_QUERY_KEYS = frozenset({"token", "code", "password", "secret"})
ID_ALPHABET = string.ascii_lowercase + string.digits


# byte -> id character; 256 is not a multiple of 36, so a few characters come slightly more often
_ID_TABLE = bytes(ord(ID_ALPHABET[i % len(ID_ALPHABET)]) for i in range(256))


def new_id() -> str:
    # a log id only needs to be unique, not unguessable or uniform: 15 random bytes mapped in C
    # keep the request path cheap (random.choices costs ten times more)
    return random.getrandbits(120).to_bytes(15, "little").translate(_ID_TABLE).decode()


def cut(text: str, limit: int) -> str:
    """PocketBase's cutStr: long values keep their head and get `...`."""
    return text[:limit] + "..." if len(text) > limit else text


def redact_query(query: str) -> str:
    """The raw query string with the values of secret-bearing parameters replaced."""
    if not query:
        return ""
    parts = []
    for pair in query.split("&"):
        key, sep, _value = pair.partition("=")
        if sep and unquote(key).lower() in SECRET_QUERY_KEYS:
            pair = f"{key}={REDACTED}"
        parts.append(pair)
    return "&".join(parts)


def request_uri(path: str, query: str) -> str:
    redacted = redact_query(query)
    return f"{path}?{redacted}" if redacted else path


def _expanded(ip: str) -> str | None:
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    return addr.exploded if addr.version == 6 else str(addr)


def real_ip(remote_ip: str, headers: Mapping[str, str], trusted: Mapping[str, Any]) -> str:
    """PocketBase's RealIP: the first configured proxy header holding a valid IP, else the peer."""
    for name in trusted.get("headers") or []:
        value = headers.get(str(name).lower(), "")
        if not value:
            continue
        ips = value.split(",")
        if not trusted.get("useLeftmostIP"):
            ips.reverse()
        for candidate in ips:
            found = _expanded(candidate)
            if found:
                return found
    return remote_ip


def raw_details(data: Any) -> Any:
    """An error's `data` the way PocketBase logs it: field errors as their raw messages."""
    if isinstance(data, dict):
        if isinstance(data.get("code"), str) and isinstance(data.get("message"), str):
            message = data["message"]
            return (message[:1].lower() + message[1:]).removesuffix(".")
        return {k: raw_details(v) for k, v in data.items()}
    return data


def build_entry(
    *,
    method: str,
    path: str,
    query: str,
    status: int,
    exec_ms: float,
    headers: Mapping[str, str],
    remote_ip: str,
    auth_collection: str,
    auth_id: str,
    error: dict[str, Any] | None,
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """A log row ready for `LogsDB.insert_sync` (`headers` keys are lower-case)."""
    logs = settings.get("logs") or {}
    uri = cut(request_uri(path, query), 3000)
    method = cut(method.upper(), 50)
    data: dict[str, Any] = {
        "type": "request",
        "execTime": exec_ms,
        "url": uri,
        "method": method,
        "status": status,
        "referer": cut(headers.get("referer", ""), 2000),
        "userAgent": cut(headers.get("user-agent", ""), 2000),
        "auth": auth_collection,
    }
    if auth_collection and logs.get("logAuthId"):
        data["authId"] = auth_id
    if logs.get("logIP", True):
        data["userIP"] = real_ip(remote_ip, headers, settings.get("trustedProxy") or {})
        data["remoteIP"] = remote_ip
    level = LEVEL_INFO
    if status >= 400:
        level = LEVEL_ERROR
        data["error"] = (error or {}).get("message", "")
        data["details"] = raw_details((error or {}).get("data")) or None
    return {
        "id": new_id(),
        "level": level,
        "message": f"{method} {_unescape(uri)}",
        "data": _within_size(data, int(logs.get("maxDataSize") or 0)),
        "created": now_str(),
    }


def _unescape(uri: str) -> str:
    try:
        return unquote(uri, errors="strict")
    except UnicodeDecodeError:
        return uri


def _within_size(data: dict[str, Any], max_size: int) -> dict[str, Any]:
    """`logs.maxDataSize` (bytes, 0 = no limit): drop the error details first, then cut strings."""
    if max_size <= 0:
        return data
    if len(json.dumps(data)) <= max_size:
        return data
    data = {**data, "details": None} if "details" in data else data
    for key in ("userAgent", "referer", "url", "error"):
        if len(json.dumps(data)) <= max_size:
            break
        if isinstance(data.get(key), str):
            data[key] = cut(data[key], 100)
    return data

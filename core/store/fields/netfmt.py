"""Email, URL and domain syntax the way PocketBase's validators (ozzo `is.*`, govalidator) see it.

Those checks are large backtracking-free regular expressions in Go (RE2). Several of them are
ambiguous (labels that may contain dots, `(x+-?-?)*x+`), which would backtrack exponentially in
Python's `re` on hostile input, so each is rewritten here as an equivalent unambiguous check.
"""

from __future__ import annotations

import re
from typing import Any

# -- email (govalidator's rxEmail; the 0.40 binary rejects quoted local parts) --------------------


class _LazyPattern:
    """A regex compiled on first use: these unicode classes take ~20 ms to compile, which every
    start-up would pay for validation that may never run."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        # kept on the instance: the next `fullmatch` is a plain attribute, not this hook again
        value = getattr(self._compiled, name)
        self.__dict__[name] = value
        return value


def _lazy(pattern: str, flags: int = 0) -> Any:
    return _LazyPattern(pattern, flags)


_UNI = "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
_LOCAL_CHARS = f"[a-zA-Z0-9!#$%&'*+\\-/=?^_`{{|}}~{_UNI}]"
_LOCAL = _lazy(f"{_LOCAL_CHARS}+(?:\\.{_LOCAL_CHARS}+)*")
_DOMAIN_ALNUM = _lazy(f"[a-zA-Z0-9{_UNI}]")
_DOMAIN_LETTER = _lazy(f"[a-zA-Z{_UNI}]")
_DOMAIN_CHARS = _lazy(f"[a-zA-Z0-9\\-._~{_UNI}]*")
# a dot with an alnum before it and a letter after it
_DOT_BETWEEN = _lazy(f"[a-zA-Z0-9{_UNI}]\\.[a-zA-Z{_UNI}]")


def is_email(value: str) -> bool:
    if value.count("@") != 1:
        return False
    local, domain = value.split("@")
    return bool(_LOCAL.fullmatch(local)) and _is_email_domain(domain)


def _is_email_domain(domain: str) -> bool:
    """(label\\.)+tld\\.? where labels and tld may contain . - _ ~ inside.

    Because a label may itself contain dots, the labels collapse into one run: the domain is
    valid when all characters are allowed, it starts alnum, ends (before an optional final dot)
    with a letter, and some dot has an alnum before it and a letter after it.
    """
    if domain.endswith("."):
        domain = domain[:-1]
    if len(domain) < 3 or not _DOMAIN_CHARS.fullmatch(domain):
        return False
    if not _DOMAIN_ALNUM.fullmatch(domain[0]) or not _DOMAIN_LETTER.fullmatch(domain[-1]):
        return False
    return bool(_DOT_BETWEEN.search(domain))


def email_domain(value: str) -> str:
    return value[value.rfind("@") + 1 :]


# -- domain (ozzo is.Domain, used for onlyDomains/exceptDomains options) -------------------------

# ozzo's pattern has a stray space before `xn--`, so punycode TLDs never match (the binary agrees)
_DOMAIN = _lazy(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{1,63}")


def is_domain(value: str) -> bool:
    return len(value) <= 255 and bool(_DOMAIN.fullmatch(value))


# -- URL (ozzo is.URL = govalidator.IsURL) -------------------------------------------------------

_NO_SPACE = r"[^\t\n\f\r ]"
_SCHEMES = ("ftp://", "tcp://", "udp://", "ws://", "wss://", "http://", "https://")
_IP_V4 = _lazy(
    r"(?:[1-9][0-9]?|1[0-9][0-9]|2[01][0-9]|22[0-3]|24[0-9]|25[0-5])"
    r"(?:\.(?:[0-9]{1,2}|1[0-9][0-9]|2[0-4][0-9]|25[0-5])){2}"
    r"\.(?:[0-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5])"
)
_H16 = "[0-9a-fA-F]{1,4}"
_V4 = r"(?:(?:25[0-5]|(?:2[0-4]|1?[0-9])?[0-9])\.){3}(?:25[0-5]|(?:2[0-4]|1?[0-9])?[0-9])"
_IP_V6 = _lazy(
    "|".join(
        (
            f"(?:{_H16}:){{7}}{_H16}",
            f"(?:{_H16}:){{1,7}}:",
            f"(?:{_H16}:){{1,6}}:{_H16}",
            f"(?:{_H16}:){{1,5}}(?::{_H16}){{1,2}}",
            f"(?:{_H16}:){{1,4}}(?::{_H16}){{1,3}}",
            f"(?:{_H16}:){{1,3}}(?::{_H16}){{1,4}}",
            f"(?:{_H16}:){{1,2}}(?::{_H16}){{1,5}}",
            f"{_H16}:(?::{_H16}){{1,6}}",
            f":(?:(?::{_H16}){{1,7}}|:)",
            "fe80:(?::[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]+",
            f"::(?:ffff(?::0{{1,4}})?:)?{_V4}",
            f"(?:{_H16}:){{1,4}}:{_V4}",
        )
    )
)
_HOST_CHAR = "a-zA-Z0-9\u00a1-\uffff"
# govalidator's host: an optional "subdomain" run glued (no dot!) to a label, then an optional
# letters-only TLD. `(x+-?-?)*x+` is rewritten as its unambiguous equivalent `x+(?:-{1,2}x+)*`.
_HOSTNAME = _lazy(
    r"(?:[a-zA-Z0-9][a-zA-Z0-9_-]*[a-zA-Z0-9](?:[-.][a-zA-Z0-9]+)*"
    r"|www\.|[a-zA-Z0-9](?:[-_.]?[a-zA-Z0-9])+\.[a-zA-Z0-9]+)?"
    rf"[{_HOST_CHAR}]+(?:-{{1,2}}[{_HOST_CHAR}]+)*"
    rf"(?:\.[a-zA-Z\u00a1-\uffff]+)?"
)
_AFTER_HOST = _lazy(rf"(?::[0-9]{{1,5}})?(?:[/?#]{_NO_SPACE}*)?")
_BAD_ESCAPE = _lazy(r"%(?![0-9a-fA-F]{2})")
_CONTROL = _lazy(r"[\x00-\x1f\x7f]")
_SCHEME = _lazy(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_USERINFO = _lazy(r"[a-zA-Z0-9\-._:~!$&'()*+,;=%@]*")


def is_url(value: str) -> bool:
    if not value or len(value) >= 2083 or len(value.encode()) <= 3 or value.startswith("."):
        return False
    # govalidator parses with net/url first; "host:port" gets an http:// so it parses as a host
    probe = "http://" + value if ":" in value and "://" not in value else value
    parts = go_url_parts(probe)
    if parts is None:
        return False
    host, path = parts
    if host.startswith(".") or (host == "" and path != "" and "." not in path):
        return False
    return _url_syntax(value)


_SPACE = _lazy(r"[\t\n\f\r ]")


def _url_syntax(value: str) -> bool:
    # any of the readings will do: the one past a known scheme, the usual match, goes first
    starts = [len(s) for s in _SCHEMES if value.startswith(s)] + [0]
    for start in starts:
        rest = value[start:]
        if _matches_authority(rest):
            return True
        # an optional `user[:pass]@` (any non-space run ending in @) before the host
        space = _SPACE.search(rest)
        stop = space.start() if space else len(rest)
        at = rest.find("@", 1, stop)
        while at >= 0:
            if _matches_authority(rest[at + 1 :]):
                return True
            at = rest.find("@", at + 1, stop)
    return False


def _matches_authority(rest: str) -> bool:
    """host, an optional trailing dot, an optional port and path/query/fragment."""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0 or not _IP_V6.fullmatch(rest[1:end]):
            return False
        return bool(_AFTER_HOST.fullmatch(rest[end + 1 :]))
    end = len(rest)
    for sep in ":/?#":
        i = rest.find(sep)
        if i >= 0:
            end = min(end, i)
    host, after = rest[:end], rest[end:]
    if not _AFTER_HOST.fullmatch(after):
        return False
    if host.endswith(".") and _is_host(host[:-1]):
        return True
    return _is_host(host)


def _is_host(host: str) -> bool:
    return bool(host) and bool(_IP_V4.fullmatch(host) or _HOSTNAME.fullmatch(host))


def go_url_parts(value: str) -> tuple[str, str] | None:
    """(host, path) as Go's net/url.Parse splits value; None where Parse fails."""
    if _CONTROL.search(value):
        return None
    rest, _, fragment = value.partition("#")
    if _BAD_ESCAPE.search(fragment):
        return None
    m = _SCHEME.match(rest)
    if rest.startswith(":"):
        return None  # missing protocol scheme
    scheme = m.group(1) if m else ""
    if scheme:
        rest = rest[len(scheme) + 1 :]
    rest = rest.partition("?")[0]
    if scheme and not rest.startswith("/"):
        return "", ""  # opaque, e.g. mailto:x
    host = ""
    if rest.startswith("//") and (scheme or not rest.startswith("///")):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        at = authority.rfind("@")
        if at >= 0 and not _USERINFO.fullmatch(authority[:at]):
            return None
        host = authority[at + 1 :]
        # Go allows %-escapes in a host only for non-ASCII bytes; plain ASCII must not be escaped
        if "%" in host and not host.startswith("["):
            return None
    elif not scheme and ":" in rest.partition("/")[0]:
        return None  # first path segment in URL cannot contain colon
    if _BAD_ESCAPE.search(rest):
        return None
    return host, rest


def url_host(value: str) -> str:
    """url.Parse(value).Host: what onlyDomains/exceptDomains compare (port included)."""
    parts = go_url_parts(value)
    return parts[0] if parts else ""

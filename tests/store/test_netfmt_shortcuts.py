"""The email and URL checks' shortcuts (one regex search instead of a walk per character, the
scheme-stripped reading tried first) answer as the walks they replaced, on random and real input."""

from __future__ import annotations

import random

from core.store.fields import netfmt


def _walk_email_domain(domain: str) -> bool:
    """_is_email_domain before: a dot with an alnum before and a letter after, char by char."""
    if domain.endswith("."):
        domain = domain[:-1]
    if len(domain) < 3 or not netfmt._DOMAIN_CHARS.fullmatch(domain):
        return False
    if not netfmt._DOMAIN_ALNUM.fullmatch(domain[0]) or not netfmt._DOMAIN_LETTER.fullmatch(domain[-1]):
        return False
    return any(
        domain[i] == "."
        and netfmt._DOMAIN_ALNUM.fullmatch(domain[i - 1])
        and netfmt._DOMAIN_LETTER.fullmatch(domain[i + 1])
        for i in range(1, len(domain) - 1)
    )


def _walk_url_syntax(value: str) -> bool:
    """_url_syntax before: plain reading first, then each `@` found by walking the characters."""
    starts = [0] + [len(s) for s in netfmt._SCHEMES if value.startswith(s)]
    for start in starts:
        rest = value[start:]
        if netfmt._matches_authority(rest):
            return True
        for i, ch in enumerate(rest):
            if ch in "\t\n\f\r ":
                break
            if ch == "@" and i > 0 and netfmt._matches_authority(rest[i + 1 :]):
                return True
    return False


REAL = [
    "https://example.com/articles/1?ref=bench",
    "http://user:pw@host.io:8080/x#y",
    "https://a@b@c.io",
    "ftp://x",
    "http://[::1]:80/",
    "https://ex ample.com",
    "https://@x.io",
    "wss://ws.example.org",
    "example.com/path",
    "http://.bad",
    "http://a.b@",
    "https://xn--bcher-kva.example",
    "person1@example.com",
    "a@b.co",
    "a@-b.co",
    "a@b..co",
    "a@b.c1",
    "é@exämple.com",
]


def _random_text(rng: random.Random) -> str:
    alphabet = "ab1Z.-_~@:/?#%[] \té"
    prefix = rng.choice(["", "http://", "https://", "ftp://", "mailto:", "a@"])
    return prefix + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 18)))


def test_shortcuts_answer_as_the_walks() -> None:
    rng = random.Random(17)
    values = REAL + [_random_text(rng) for _ in range(20000)]
    for value in values:
        assert netfmt._url_syntax(value) == _walk_url_syntax(value), value
        domain = value[value.rfind("@") + 1 :]
        assert netfmt._is_email_domain(domain) == _walk_email_domain(domain), domain

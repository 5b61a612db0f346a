"""SQL text with its positional parameters, composed so the two never drift apart.

PocketBase builds SQL with named placeholders and can repeat an operand freely
(`(x = '' OR x IS NULL)`). With positional `?` parameters a repeated operand must repeat its
parameters too, so every piece of SQL here is a `Frag` and composition concatenates both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Frag:
    sql: str
    params: tuple[Any, ...] = ()

    def __add__(self, other: Frag | str) -> Frag:
        if isinstance(other, str):
            return Frag(self.sql + other, self.params)
        return Frag(self.sql + other.sql, self.params + other.params)

    def __radd__(self, other: str) -> Frag:
        return Frag(other + self.sql, self.params)


def sql(template: str, *parts: Frag | str) -> Frag:
    """Fill each `{}` of `template` with a part, in order (templates never contain other braces)."""
    pieces = template.split("{}")
    if len(pieces) != len(parts) + 1:
        raise ValueError(f"template expects {len(pieces) - 1} parts, got {len(parts)}")
    out = Frag(pieces[0])
    for part, tail in zip(parts, pieces[1:], strict=True):
        out = out + part + tail
    return out


def param(value: Any) -> Frag:
    return Frag("?", (value,))


def join(sep: str, frags: list[Frag]) -> Frag:
    out = Frag("")
    for i, f in enumerate(frags):
        out = out + (sep if i else "") + f
    return out


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier; quotes inside are doubled so nothing escapes it."""
    return '"' + name.replace('"', '""') + '"'


def column(alias_sql: str, name: str) -> Frag:
    return Frag(f"{alias_sql}.{quote_ident(name)}")

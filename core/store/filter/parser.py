"""The filter parser: fexpr's state machine, including its quirks.

Quirks kept because PocketBase has them (a filter must mean the same thing on both servers):
- a parenthesised group is accepted at any step and resets the machine to "expect a join", so
  `title (views = 1)` silently drops the unfinished `title` and means `views = 1`;
- a group with no join before it reuses the last join seen (`a = 1 (b = 2)` is an AND);
- an empty group `()` or a filter of only whitespace/comments is an error.
"""

from __future__ import annotations

from functools import lru_cache

from core.store.filter import gostr
from core.store.filter.ast import JOIN_AND, JOIN_OR, OPERAND_TYPES, Expr, Group, Token, TokenType
from core.store.filter.errors import EMPTY_FILTER, INCOMPLETE_FILTER, FilterError
from core.store.filter.lexer import Scanner

_BEFORE_SIGN, _SIGN, _AFTER_SIGN, _JOIN = range(4)


def _describe(t: Token) -> str:
    return f"{gostr.quote(t.literal)} ({t.type.value})"


@lru_cache(maxsize=512)
def parse(text: str) -> tuple[Group, ...]:
    """Parse a filter into groups; raises FilterError with fexpr's message on any syntax error."""
    result: list[Group] = []
    scanner = Scanner(text)
    step = _BEFORE_SIGN
    join = JOIN_AND
    left: Token | None = None
    op = ""

    while True:
        t = scanner.scan()
        if t.type == TokenType.EOF:
            break
        if t.type in (TokenType.WS, TokenType.COMMENT):
            continue
        if t.type == TokenType.GROUP:
            result.append(Group(join, parse(t.literal)))
            step = _JOIN
            continue

        if step == _BEFORE_SIGN:
            if t.type not in OPERAND_TYPES:
                raise FilterError(
                    f"expected left operand (identifier, function, text or number), got {_describe(t)}"
                )
            left, op = t, ""
            step = _SIGN
        elif step == _SIGN:
            if t.type != TokenType.SIGN:
                raise FilterError(f"expected a sign operator, got {_describe(t)}")
            op = t.literal
            step = _AFTER_SIGN
        elif step == _AFTER_SIGN:
            if t.type not in OPERAND_TYPES:
                # (sic) fexpr's message lacks the comma after "function"
                raise FilterError(
                    f"expected right operand (identifier, function text or number), got {_describe(t)}"
                )
            assert left is not None
            result.append(Group(join, Expr(left, op, t)))
            step = _JOIN
        else:
            if t.type != TokenType.JOIN:
                raise FilterError(f"expected && or ||, got {_describe(t)}")
            join = JOIN_OR if t.literal == JOIN_OR else JOIN_AND
            step = _BEFORE_SIGN

    if step != _JOIN:
        if not result and left is None:
            raise FilterError(EMPTY_FILTER)
        raise FilterError(INCOMPLETE_FILTER)
    return tuple(result)

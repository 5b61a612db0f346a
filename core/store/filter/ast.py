"""Tokens and the parse tree of a filter, shaped like PocketBase's `fexpr` package.

A filter parses to a flat list of groups, each carrying the join (`&&`/`||`) that precedes it.
There is no precedence in the tree: the SQL is emitted in the same flat order and SQL's own
precedence (AND before OR) applies, exactly as PocketBase does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class TokenType(Enum):
    # values are fexpr's names; they appear in error messages ("got \"x\" (identifier)")
    UNEXPECTED = "unexpected"
    EOF = "eof"
    WS = "whitespace"
    JOIN = "join"
    SIGN = "sign"
    IDENTIFIER = "identifier"
    FUNCTION = "function"
    NUMBER = "number"
    TEXT = "text"
    GROUP = "group"
    COMMENT = "comment"


OPERAND_TYPES = (TokenType.IDENTIFIER, TokenType.FUNCTION, TokenType.TEXT, TokenType.NUMBER)

SIGN_OPS = ("=", "!=", "~", "!~", "<", "<=", ">", ">=", "?=", "?!=", "?~", "?!~", "?<", "?<=", "?>", "?>=")
JOIN_AND = "&&"
JOIN_OR = "||"


@dataclass(frozen=True)
class Token:
    type: TokenType
    literal: str
    args: tuple[Token, ...] = ()  # function arguments


@dataclass(frozen=True)
class Expr:
    left: Token
    op: str
    right: Token


@dataclass(frozen=True)
class Group:
    join: str  # the join before this item; the first item's join is ignored
    item: Expr | tuple[Group, ...]


def is_any_op(op: str) -> bool:
    """`?=` and friends: at least one item of a multi-valued operand must match."""
    return op.startswith("?")

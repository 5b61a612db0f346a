"""The fexpr grammar: tokens, parse tree shape and PocketBase's quirks, without a database."""

from __future__ import annotations

import pytest

from core.store.filter import FilterError
from core.store.filter.ast import Expr, Group, Token, TokenType
from core.store.filter.gostr import format_float, json_marshal, quote, quote_rune, to_string
from core.store.filter.lexer import Scanner
from core.store.filter.operators import wrap_like_value
from core.store.filter.parser import parse

ID, T, N, FN = TokenType.IDENTIFIER, TokenType.TEXT, TokenType.NUMBER, TokenType.FUNCTION


def tokens(text: str) -> list[tuple[TokenType, str]]:
    s = Scanner(text)
    out: list[tuple[TokenType, str]] = []
    while (t := s.scan()).type != TokenType.EOF:
        if t.type != TokenType.WS:
            out.append((t.type, t.literal))
    return out


@pytest.mark.parametrize(
    "text,expected",
    [
        ("a.b:each?!=-1.5", [(ID, "a.b:each"), (TokenType.SIGN, "?!="), (N, "-1.5")]),
        ("@request.auth.id", [(ID, "@request.auth.id")]),
        ("#x _y", [(ID, "#x"), (ID, "_y")]),
        ("'it\\'s' \"q\\\"\"", [(T, "it's"), (T, 'q"')]),
        ("'a\\\\' 'b\\n\\t\\r' 'c\\x'", [(T, "a\\"), (T, "b\n\t\r"), (T, "c\\x")]),
        ("&& || // note\n", [(TokenType.JOIN, "&&"), (TokenType.JOIN, "||"), (TokenType.COMMENT, "note")]),
        ("(a = 'x)' && (b = 1))", [(TokenType.GROUP, "a = 'x)' && (b = 1)")]),
        ("1-2", [(N, "1"), (N, "-2")]),
        ("a@b", [(ID, "a"), (ID, "@b")]),
    ],
)
def test_tokens(text: str, expected: list[tuple[TokenType, str]]) -> None:
    assert tokens(text) == expected


def test_function_tokens_carry_their_arguments() -> None:
    t = Scanner("strftime('%Y', due, 'start of day',)").scan()
    assert t == Token(FN, "strftime", (Token(T, "%Y"), Token(ID, "due"), Token(T, "start of day")))
    nested = Scanner("a(b(1), -2)").scan()
    assert nested.args == (Token(FN, "b", (Token(N, "1"),)), Token(N, "-2"))


def test_parse_tree_is_flat_with_joins() -> None:
    left = Token(ID, "a")
    one, two = Token(N, "1"), Token(N, "2")
    assert parse("a = 1 || a = 2 && (a = 1)") == (
        Group("&&", Expr(left, "=", one)),
        Group("||", Expr(left, "=", two)),
        Group("&&", (Group("&&", Expr(left, "=", one)),)),
    )


def test_group_without_join_reuses_the_last_join() -> None:
    groups = parse("a = 1 || a = 2 (a = 3)")
    assert [g.join for g in groups] == ["&&", "||", "||"]


def test_group_discards_an_unfinished_expression() -> None:
    assert parse("a (b = 1)") == parse("(b = 1)")
    assert parse("a = (b = 1)") == parse("(b = 1)")


@pytest.mark.parametrize("text", ["", " ", "// x", "()", "(// x\n)", "a = 1 && ( )"])
def test_empty(text: str) -> None:
    with pytest.raises(FilterError, match="^empty filter expression$"):
        parse(text)


def test_like_wrapping() -> None:
    assert wrap_like_value("abc") == "%abc%"
    assert wrap_like_value("a_b%") == "a_b%"  # explicit wildcard: used as is
    assert wrap_like_value("a\\%b") == "%a\\%b%"  # escaped %: still wrapped
    assert wrap_like_value("a_b") == "%a\\_b%"
    assert wrap_like_value("__") == "%_\\_%"  # PocketBase's escaping quirk, kept
    assert wrap_like_value("a\\b") == "%a\\\\b%"
    assert wrap_like_value(10.0) == "%10%"
    assert wrap_like_value(True) == "%true%"
    assert wrap_like_value(None) == "%%"


def test_go_formatting() -> None:
    assert quote('a"b\n') == '"a\\"b\\n"'
    assert quote_rune("'") == "'\\''"
    assert quote_rune("\r") == "'\\r'"
    assert quote_rune("é") == "'é'"
    assert format_float(1e22) == "10000000000000000000000"
    assert format_float(0.1) == "0.1"
    assert format_float(-5.5) == "-5.5"
    assert to_string([1]) == ""
    assert json_marshal({"b": 1.0, "a": ["<&>"]}) == '{"a":["\\u003c\\u0026\\u003e"],"b":1}'

"""The filter scanner: PocketBase's `fexpr` scanner, rune for rune.

Mirroring it exactly (not a "better" tokenizer) keeps the accepted language and the error
texts identical. Notable fexpr behaviours kept on purpose:
- a group `( ... )` is scanned as raw text up to its matching parenthesis (quotes respected,
  comments not) and parsed again recursively;
- whitespace is only space, tab and newline (a `\\r` is an unexpected character);
- in quoted text `\\\\`, `\\'`, `\\"`, `\\n`, `\\t`, `\\r` are escapes; any other backslash is kept;
- numbers may start with `-`, have at most one dot and never start or end with it;
- an identifier immediately followed by `(` is a function call, nested at most 3 deep.
"""

from __future__ import annotations

from core.store.filter import gostr
from core.store.filter.ast import JOIN_AND, JOIN_OR, SIGN_OPS, Token, TokenType
from core.store.filter.errors import FilterError

MAX_FUNC_DEPTH = 3
EOF = ""

_TEXT_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def _is_ws(ch: str) -> bool:
    return ch in (" ", "\t", "\n")


def _is_letter(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _is_ident_special_start(ch: str) -> bool:
    return ch in ("@", "_", "#")


def _is_ident_start(ch: str) -> bool:
    return ch != EOF and (_is_letter(ch) or _is_ident_special_start(ch))


def _is_ident_combine(ch: str) -> bool:
    return ch in (".", ":")


def _is_number_start(ch: str) -> bool:
    return ch == "-" or _is_digit(ch)


def _is_text_start(ch: str) -> bool:
    return ch in ("'", '"')


def _is_sign_start(ch: str) -> bool:
    return ch != EOF and ch in "=?!><~"


def _is_join_start(ch: str) -> bool:
    return ch in ("&", "|") and ch != EOF


class ScanError(FilterError):
    """A scan failure; `literal` is what fexpr reports as the failed token's text."""

    def __init__(self, message: str, literal: str) -> None:
        super().__init__(message)
        self.literal = literal


def is_valid_identifier(literal: str) -> bool:
    return (
        literal != ""
        and not _is_ident_combine(literal[-1])
        and not (len(literal) == 1 and _is_ident_special_start(literal[0]))
    )


class Scanner:
    def __init__(self, text: str) -> None:
        self.data = text
        self.pos = 0

    def read(self) -> str:
        if self.pos >= len(self.data):
            return EOF
        ch = self.data[self.pos]
        self.pos += 1
        return ch

    def unread(self) -> None:
        if self.pos > 0:
            self.pos -= 1

    def scan(self) -> Token:
        ch = self.read()
        if ch == EOF:
            return Token(TokenType.EOF, "")
        self.unread()
        if _is_ws(ch):
            return self.scan_whitespace()
        if ch == "(":
            return self.scan_group()
        if _is_ident_start(ch):
            return self.scan_identifier(MAX_FUNC_DEPTH)
        if _is_number_start(ch):
            return self.scan_number()
        if _is_text_start(ch):
            return self.scan_text(preserve_quotes=False)
        if _is_sign_start(ch):
            return self.scan_sign()
        if _is_join_start(ch):
            return self.scan_join()
        if ch == "/":
            return self.scan_comment()
        self.read()
        raise FilterError(f"unexpected character {gostr.quote_rune(ch)}")

    def scan_whitespace(self) -> Token:
        start = self.pos
        while True:
            ch = self.read()
            if ch == EOF:
                break
            if not _is_ws(ch):
                self.unread()
                break
        return Token(TokenType.WS, self.data[start : self.pos])

    def scan_number(self) -> Token:
        buf: list[str] = []
        had_dot = False
        while True:
            ch = self.read()
            if ch == EOF:
                break
            if not _is_digit(ch) and (ch != "-" or buf) and (ch != "." or had_dot):
                self.unread()
                break
            buf.append(ch)
            if ch == ".":
                had_dot = True
        literal = "".join(buf)
        if literal == "-" or literal.startswith(".") or literal.endswith("."):
            raise ScanError(f"invalid number {gostr.quote(literal)}", literal)
        return Token(TokenType.NUMBER, literal)

    def scan_text(self, preserve_quotes: bool) -> Token:
        quote_ch = self.read()
        raw = [quote_ch]
        value: list[str] = []
        closed = False
        while True:
            ch = self.read()
            if ch == EOF:
                break
            raw.append(ch)
            if ch == "\\":
                nxt = self.read()
                if nxt == EOF:
                    value.append(ch)
                    break
                raw.append(nxt)
                value.append(_TEXT_ESCAPES.get(nxt, "\\" + nxt))
                continue
            if ch == quote_ch:
                closed = True
                break
            value.append(ch)
        literal = "".join(raw)
        if not closed:
            raise ScanError(f"invalid quoted text {gostr.quote(literal)}", literal)
        return Token(TokenType.TEXT, literal if preserve_quotes else "".join(value))

    def scan_comment(self) -> Token:
        if self.read() != "/" or self.read() != "/":
            raise FilterError("invalid comment")
        buf: list[str] = []
        while True:
            ch = self.read()
            if ch in (EOF, "\n"):
                break
            buf.append(ch)
        return Token(TokenType.COMMENT, "".join(buf).strip())

    def scan_identifier(self, func_depth: int) -> Token:
        buf = [self.read()]
        while True:
            ch = self.read()
            if ch == EOF:
                break
            if ch == "(":
                name = "".join(buf)
                if func_depth <= 0:
                    raise ScanError(f"max nested function arguments reached (max: {MAX_FUNC_DEPTH})", name)
                if not is_valid_identifier(name):
                    raise ScanError(f"invalid function name {gostr.quote(name)}", name)
                self.unread()
                return self.scan_function_args(name, func_depth)
            if not _is_letter(ch) and not _is_digit(ch) and not _is_ident_combine(ch) and ch != "_":
                self.unread()
                break
            buf.append(ch)
        literal = "".join(buf)
        if not is_valid_identifier(literal):
            raise ScanError(f"invalid identifier {gostr.quote(literal)}", literal)
        return Token(TokenType.IDENTIFIER, literal)

    def scan_sign(self) -> Token:
        buf: list[str] = []
        while True:
            ch = self.read()
            if ch == EOF:
                break
            if not _is_sign_start(ch):
                self.unread()
                break
            buf.append(ch)
        literal = "".join(buf)
        if literal not in SIGN_OPS:
            raise FilterError(f"invalid sign operator {gostr.quote(literal)}")
        return Token(TokenType.SIGN, literal)

    def scan_join(self) -> Token:
        buf: list[str] = []
        while True:
            ch = self.read()
            if ch == EOF:
                break
            if not _is_join_start(ch):
                self.unread()
                break
            buf.append(ch)
        literal = "".join(buf)
        if literal not in (JOIN_AND, JOIN_OR):
            raise FilterError(f"invalid join operator {gostr.quote(literal)}")
        return Token(TokenType.JOIN, literal)

    def scan_group(self) -> Token:
        self.read()  # the opening parenthesis
        buf: list[str] = []
        open_groups = 1
        while True:
            ch = self.read()
            if ch == EOF:
                break
            if ch == "(":
                open_groups += 1
                buf.append(ch)
            elif _is_text_start(ch):
                self.unread()
                buf.append(self.scan_text(preserve_quotes=True).literal)
            elif ch == ")":
                open_groups -= 1
                if open_groups <= 0:
                    break
                buf.append(ch)
            else:
                buf.append(ch)
        if open_groups > 0:
            raise FilterError(f"invalid formatted group - missing {open_groups} closing bracket(s)")
        return Token(TokenType.GROUP, "".join(buf))

    def scan_function_args(self, name: str, func_depth: int) -> Token:
        args: list[Token] = []
        expect_comma = False
        closed = False
        qname = gostr.quote(name)

        def fail(message: str) -> ScanError:
            return ScanError(message, name)

        if self.read() != "(":
            raise fail(f"invalid or incomplete function call {qname}")
        while True:
            ch = self.read()
            if ch == EOF:
                break
            if ch == ")":
                closed = True
                break
            if _is_ws(ch):
                self.scan_whitespace()
                continue
            if ch == "/":
                self.unread()
                try:
                    self.scan_comment()
                except FilterError as e:
                    raise fail(f"failed to scan comment in function {qname}: {e}") from None
                continue
            is_comma = ch == ","
            if expect_comma and not is_comma:
                raise fail(f"expected comma after the last argument in function {qname}")
            if not expect_comma and is_comma:
                raise fail(f"unexpected comma in function {qname}")
            expect_comma = False
            if is_comma:
                continue
            self.unread()
            if _is_ident_start(ch):
                kind, scan_arg = "identifier", lambda: self.scan_identifier(func_depth - 1)
            elif _is_number_start(ch):
                kind, scan_arg = "number", self.scan_number
            elif _is_text_start(ch):
                kind, scan_arg = "text", lambda: self.scan_text(preserve_quotes=False)
            else:
                raise fail(f"unsupported argument character {gostr.quote_rune(ch)} in function {qname}")
            try:
                args.append(scan_arg())
            except ScanError as e:
                raise fail(
                    f"invalid {kind} argument {gostr.quote(e.literal)} in function {qname}: {e}"
                ) from None
            expect_comma = True
        if not closed:
            raise fail(f"invalid or incomplete function {qname} (expected ')')")
        return Token(TokenType.FUNCTION, name, tuple(args))

"""Go (RE2) regular expressions: parse, match through Python's `re`, and generate from.

PocketBase validates `pattern` options with Go's `regexp`, so a pattern must mean the same
thing here: `$` is end of text (Python's `$` also matches before a final newline, which would
let `"abc\n"` through `^[a-z]+$`), `\\d \\w \\s \\b` are ASCII-only, and lookarounds or
backreferences are syntax errors. We parse Go's syntax into a small tree (Go's `syntax.Op`
numbers), emit an equivalent Python pattern from it, and walk the same tree to produce random
strings for `autogeneratePattern` the way PocketBase's `security.RandomStringByRegex` does.
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from dataclasses import dataclass, field

# regexp/syntax.Op values (the generator reports unsupported ones by number, as Go does)
OP_NO_MATCH = 1
OP_EMPTY_MATCH = 2
OP_LITERAL = 3
OP_CHAR_CLASS = 4
OP_ANY_CHAR_NOT_NL = 5
OP_ANY_CHAR = 6
OP_BEGIN_LINE = 7
OP_END_LINE = 8
OP_BEGIN_TEXT = 9
OP_END_TEXT = 10
OP_WORD_BOUNDARY = 11
OP_NO_WORD_BOUNDARY = 12
OP_CAPTURE = 13
OP_STAR = 14
OP_PLUS = 15
OP_QUEST = 16
OP_REPEAT = 17
OP_CONCAT = 18
OP_ALTERNATE = 19

MAX_RUNE = 0x10FFFF
MAX_REPEAT = 1000
# RandomStringByRegex: unbounded repeats (*, +, {n,}) stop below this many
DEFAULT_MAX_REPEAT = 6
ANY_CHAR_PAIRS = ((ord("A"), ord("Z")), (ord("a"), ord("z")), (ord("0"), ord("9")))

Ranges = list[tuple[int, int]]


class GoRegexError(ValueError):
    """A pattern Go's regexp would reject, with Go's error text."""

    def __init__(self, code: str, expr: str):
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


@dataclass
class Node:
    op: int
    subs: list[Node] = field(default_factory=list)
    text: str = ""
    ranges: Ranges = field(default_factory=list)
    min: int = 0
    max: int = -1
    greedy: bool = True
    fold: bool = False
    dot_nl: bool = False


@dataclass
class _Flags:
    fold: bool = False  # i
    multiline: bool = False  # m
    dot_nl: bool = False  # s
    ungreedy: bool = False  # U

    def copy(self) -> _Flags:
        return _Flags(self.fold, self.multiline, self.dot_nl, self.ungreedy)


def _cls(*pairs: tuple[str, str]) -> Ranges:
    return [(ord(a), ord(b)) for a, b in pairs]


PERL_CLASSES: dict[str, Ranges] = {
    "d": _cls(("0", "9")),
    "s": _cls(("\t", "\n"), ("\f", "\r"), (" ", " ")),
    "w": _cls(("0", "9"), ("A", "Z"), ("_", "_"), ("a", "z")),
}
POSIX_CLASSES: dict[str, Ranges] = {
    "alnum": _cls(("0", "9"), ("A", "Z"), ("a", "z")),
    "alpha": _cls(("A", "Z"), ("a", "z")),
    "ascii": [(0, 0x7F)],
    "blank": _cls(("\t", "\t"), (" ", " ")),
    "cntrl": [(0, 0x1F), (0x7F, 0x7F)],
    "digit": _cls(("0", "9")),
    "graph": _cls(("!", "~")),
    "lower": _cls(("a", "z")),
    "print": _cls((" ", "~")),
    "punct": _cls(("!", "/"), (":", "@"), ("[", "`"), ("{", "~")),
    "space": _cls(("\t", "\r"), (" ", " ")),
    "upper": _cls(("A", "Z")),
    "word": _cls(("0", "9"), ("A", "Z"), ("_", "_"), ("a", "z")),
    "xdigit": _cls(("0", "9"), ("A", "F"), ("a", "f")),
}
SIMPLE_ESCAPES = {"a": 7, "f": 12, "t": 9, "n": 10, "r": 13, "v": 11}


def _normalize_ranges(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _negate(ranges: Ranges) -> Ranges:
    out: Ranges = []
    nxt = 0
    for lo, hi in _normalize_ranges(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_RUNE:
        out.append((nxt, MAX_RUNE))
    return out


@functools.lru_cache(maxsize=32)
def _unicode_category(name: str) -> tuple[tuple[int, int], ...]:
    # Only general categories (\pL, \p{Lu}, \pN...): Python's re has no \p, so build the ranges
    ranges: Ranges = []
    for cp in range(MAX_RUNE + 1):
        if unicodedata.category(chr(cp)).startswith(name):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return tuple(ranges)


_UNICODE_CATEGORIES = frozenset(
    [
        "C",
        "Cc",
        "Cf",
        "Co",
        "Cs",
        "L",
        "Ll",
        "Lm",
        "Lo",
        "Lt",
        "Lu",
        "M",
        "Mc",
        "Me",
        "Mn",
        "N",
        "Nd",
        "Nl",
        "No",
        "P",
        "Pc",
        "Pd",
        "Pe",
        "Pf",
        "Pi",
        "Po",
        "Ps",
        "S",
        "Sc",
        "Sk",
        "Sm",
        "So",
        "Z",
        "Zl",
        "Zp",
        "Zs",
    ]
)


class _Parser:
    def __init__(self, pattern: str):
        self.src = pattern
        self.pos = 0

    # -- helpers
    def _peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.src[i] if i < len(self.src) else ""

    def _at_end(self) -> bool:
        return self.pos >= len(self.src)

    # -- grammar
    def parse(self) -> Node:
        node = self._parse_alternation(_Flags(), top=True)
        if not self._at_end():  # a stray ')'
            raise GoRegexError("unexpected )", self.src)
        return node

    def _parse_alternation(self, flags: _Flags, top: bool) -> Node:
        branches: list[Node] = []
        items: list[Node] = []
        last_repeat_start = -1  # where the previous repetition operator began
        while not self._at_end():
            c = self._peek()
            if c == ")":
                if top:
                    raise GoRegexError("unexpected )", self.src)
                break
            if c == "|":
                self.pos += 1
                branches.append(_concat(items))
                items = []
                last_repeat_start = -1
                continue
            op_start = self.pos
            quantifier = self._parse_quantifier(flags)
            if quantifier is not None:
                if last_repeat_start >= 0:
                    raise GoRegexError(
                        "invalid nested repetition operator", self.src[last_repeat_start : self.pos]
                    )
                if not items:
                    raise GoRegexError(
                        "missing argument to repetition operator", self.src[op_start : self.pos]
                    )
                quantifier.subs = [items[-1]]
                items[-1] = quantifier
                last_repeat_start = op_start
                continue
            last_repeat_start = -1
            atom = self._parse_atom(flags)
            if atom is not None:
                items.append(atom)
        branches.append(_concat(items))
        if len(branches) == 1:
            return branches[0]
        return Node(OP_ALTERNATE, subs=branches)

    def _parse_quantifier(self, flags: _Flags) -> Node | None:
        c = self._peek()
        if c in ("*", "+", "?"):
            self.pos += 1
            op = {"*": OP_STAR, "+": OP_PLUS, "?": OP_QUEST}[c]
            node = Node(op)
        elif c == "{":
            m = re.match(r"\{([0-9]+)(,([0-9]*))?\}", self.src[self.pos :])
            if m is None:
                return None  # Go reads a `{` that starts no repeat as a literal
            text = m.group(0)
            lo = int(m.group(1))
            hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else -1)
            if lo > MAX_REPEAT or hi > MAX_REPEAT or (hi >= 0 and hi < lo):
                raise GoRegexError("invalid repeat count", text)
            self.pos += len(text)
            node = Node(OP_REPEAT, min=lo, max=hi)
        else:
            return None
        node.greedy = not flags.ungreedy
        if self._peek() == "?":
            self.pos += 1
            node.greedy = not node.greedy
        return node

    def _parse_atom(self, flags: _Flags) -> Node | None:
        c = self._peek()
        if c == "(":
            return self._parse_group(flags)
        if c == "[":
            return self._parse_class(flags)
        self.pos += 1
        if c == ".":
            return Node(OP_ANY_CHAR if flags.dot_nl else OP_ANY_CHAR_NOT_NL)
        if c == "^":
            return Node(OP_BEGIN_LINE if flags.multiline else OP_BEGIN_TEXT)
        if c == "$":
            return Node(OP_END_LINE if flags.multiline else OP_END_TEXT)
        if c == "\\":
            return self._parse_escape_atom(flags)
        return Node(OP_LITERAL, text=c, fold=flags.fold)

    def _parse_group(self, flags: _Flags) -> Node | None:
        start = self.pos
        self.pos += 1  # (
        name_match = re.match(r"\?P?<", self.src[self.pos :])
        if name_match:
            end = self.src.find(">", self.pos)
            name = self.src[self.pos + len(name_match.group(0)) : end] if end >= 0 else ""
            if end < 0 or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise GoRegexError(
                    "invalid named capture", self.src[start : end + 1 if end >= 0 else len(self.src)]
                )
            self.pos = end + 1
            return self._finish_group(flags.copy(), start)
        if self._peek() == "?":
            return self._parse_flag_group(flags, start)
        return self._finish_group(flags.copy(), start)

    def _parse_flag_group(self, flags: _Flags, start: int) -> Node | None:
        self.pos += 1  # ?
        new = flags.copy()
        negate = False
        seen = False
        while not self._at_end():
            c = self._peek()
            self.pos += 1
            if c in "imsU":
                value = not negate
                if c == "i":
                    new.fold = value
                elif c == "m":
                    new.multiline = value
                elif c == "s":
                    new.dot_nl = value
                else:
                    new.ungreedy = value
                seen = True
                continue
            if c == "-" and not negate:
                negate = True
                seen = False
                continue
            if c in ":)" and (seen or not negate):
                if c == ")":  # (?i) changes the rest of the enclosing group
                    flags.fold, flags.multiline = new.fold, new.multiline
                    flags.dot_nl, flags.ungreedy = new.dot_nl, new.ungreedy
                    return None
                return self._finish_group(new, start, capture=False)
            break
        raise GoRegexError("invalid or unsupported Perl syntax", self.src[start : self.pos])

    def _finish_group(self, flags: _Flags, start: int, capture: bool = True) -> Node:
        body = self._parse_alternation(flags, top=False)
        if self._peek() != ")":
            raise GoRegexError("missing closing )", self.src)
        self.pos += 1
        return Node(OP_CAPTURE, subs=[body]) if capture else body

    def _parse_escape_atom(self, flags: _Flags) -> Node:
        c = self._peek()
        if c == "":
            raise GoRegexError("trailing backslash at end of expression", "")
        simple = {"A": OP_BEGIN_TEXT, "z": OP_END_TEXT, "b": OP_WORD_BOUNDARY, "B": OP_NO_WORD_BOUNDARY}
        if c in simple:
            self.pos += 1
            return Node(simple[c])
        if c == "Q":
            end = self.src.find("\\E", self.pos + 1)
            text = self.src[self.pos + 1 : end if end >= 0 else len(self.src)]
            self.pos = end + 2 if end >= 0 else len(self.src)
            return _concat([Node(OP_LITERAL, text=ch, fold=flags.fold) for ch in text])
        ranges = self._parse_class_escape()
        if ranges is not None:
            return Node(OP_CHAR_CLASS, ranges=ranges, fold=flags.fold)
        return Node(OP_LITERAL, text=chr(self._parse_char_escape()), fold=flags.fold)

    def _parse_class_escape(self) -> Ranges | None:
        """\\d \\s \\w (and negations) or \\p{..}; self.pos is after the backslash."""
        c = self._peek()
        if c.lower() in PERL_CLASSES:
            self.pos += 1
            ranges = PERL_CLASSES[c.lower()]
            return _negate(ranges) if c.isupper() else list(ranges)
        if c in ("p", "P"):
            start = self.pos - 1
            self.pos += 1
            if self._peek() == "{":
                end = self.src.find("}", self.pos)
                if end < 0:
                    raise GoRegexError("invalid character class range", self.src[start:])
                name = self.src[self.pos + 1 : end]
                self.pos = end + 1
            else:
                name = self._peek()
                self.pos += 1
            negated = c == "P"
            if name.startswith("^"):
                name, negated = name[1:], not negated
            if name == "Any":
                ranges = [(0, MAX_RUNE)]
            elif name in _UNICODE_CATEGORIES:
                ranges = list(_unicode_category(name))
            else:  # Unicode scripts (\p{Greek}) are not supported here
                raise GoRegexError("invalid character class range", self.src[start : self.pos])
            return _negate(ranges) if negated else ranges
        return None

    def _parse_char_escape(self) -> int:
        """One escaped character; self.pos is after the backslash."""
        start = self.pos - 1
        c = self._peek()
        if c == "":
            raise GoRegexError("trailing backslash at end of expression", "")
        self.pos += 1
        if c in "01234567":
            # a lone non-zero digit would be a backreference, which RE2 lacks
            digits = c
            if c != "0" and not ("0" <= self._peek() <= "7"):
                raise GoRegexError("invalid escape sequence", self.src[start : self.pos])
            while len(digits) < 3 and "0" <= self._peek() <= "7":
                digits += self._peek()
                self.pos += 1
            return int(digits, 8)
        if c == "x":
            if self._peek() == "{":
                end = self.src.find("}", self.pos)
                hexdigits = self.src[self.pos + 1 : end] if end >= 0 else ""
                if end < 0 or not re.fullmatch(r"[0-9A-Fa-f]+", hexdigits) or int(hexdigits, 16) > MAX_RUNE:
                    raise GoRegexError(
                        "invalid escape sequence", self.src[start : end + 1 if end >= 0 else len(self.src)]
                    )
                self.pos = end + 1
                return int(hexdigits, 16)
            hexdigits = self.src[self.pos : self.pos + 2]
            if not re.fullmatch(r"[0-9A-Fa-f]{2}", hexdigits):
                raise GoRegexError("invalid escape sequence", self.src[start : self.pos + len(hexdigits)])
            self.pos += 2
            return int(hexdigits, 16)
        if c in SIMPLE_ESCAPES:
            return SIMPLE_ESCAPES[c]
        if c.isascii() and not c.isalnum():
            return ord(c)  # escaped punctuation is the literal character
        raise GoRegexError("invalid escape sequence", self.src[start : self.pos])

    def _parse_class(self, flags: _Flags) -> Node:
        start = self.pos
        self.pos += 1  # [
        negated = self._peek() == "^"
        if negated:
            self.pos += 1
        ranges: Ranges = []
        first = True
        while True:
            if self._at_end():
                raise GoRegexError("missing closing ]", self.src[start:])
            c = self._peek()
            if c == "]" and not first:
                self.pos += 1
                break
            first = False
            posix = re.match(r"\[:(\^?)([a-z]+):\]", self.src[self.pos :])
            if posix and posix.group(2) in POSIX_CLASSES:
                self.pos += len(posix.group(0))
                cls = POSIX_CLASSES[posix.group(2)]
                ranges += _negate(cls) if posix.group(1) else cls
                continue
            if c == "\\":
                self.pos += 1
                perl = self._parse_class_escape()
                if perl is not None:
                    ranges += perl
                    continue
                self.pos -= 1
            item_start = self.pos
            lo = self._parse_class_char()
            hi = lo
            if self._peek() == "-" and self._peek(1) not in ("]", ""):
                self.pos += 1
                hi = self._parse_class_char()
                if hi < lo:
                    raise GoRegexError("invalid character class range", self.src[item_start : self.pos])
            ranges.append((lo, hi))
        ranges = _normalize_ranges(ranges)
        return Node(OP_CHAR_CLASS, ranges=_negate(ranges) if negated else ranges, fold=flags.fold)

    def _parse_class_char(self) -> int:
        c = self._peek()
        self.pos += 1
        if c == "\\":
            return self._parse_char_escape()
        return ord(c)


def _concat(items: list[Node]) -> Node:
    if not items:
        return Node(OP_EMPTY_MATCH)
    if len(items) == 1:
        return items[0]
    return Node(OP_CONCAT, subs=items)


def parse(pattern: str) -> Node:
    """Parse with Go's Perl flags; GoRegexError carries Go's message for invalid syntax."""
    return _Parser(pattern).parse()


# -- matching through Python's re ---------------------------------------------------------------

_ASCII_WORD = "[0-9A-Za-z_]"


def _class_source(ranges: Ranges) -> str:
    if not ranges:
        return "(?!)"
    parts = []
    for lo, hi in ranges:
        parts.append(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}")
    return "[" + "".join(parts) + "]"


def _quantifier(node: Node) -> str:
    if node.op == OP_STAR:
        text = "*"
    elif node.op == OP_PLUS:
        text = "+"
    elif node.op == OP_QUEST:
        text = "?"
    elif node.max == node.min:
        text = f"{{{node.min}}}"
    elif node.max < 0:
        text = f"{{{node.min},}}"
    else:
        text = f"{{{node.min},{node.max}}}"
    return text if node.greedy else text + "?"


def to_python(node: Node) -> str:
    op = node.op
    if op == OP_LITERAL:
        text = re.escape(node.text)
        return f"(?i:{text})" if node.fold else text
    if op == OP_CHAR_CLASS:
        text = _class_source(node.ranges)
        return f"(?i:{text})" if node.fold else text
    if op == OP_ANY_CHAR_NOT_NL:
        return "[^\\n]"
    if op == OP_ANY_CHAR:
        return "(?s:.)"
    if op == OP_BEGIN_LINE:
        return "(?m:^)"
    if op == OP_END_LINE:
        return "(?m:$)"
    if op == OP_BEGIN_TEXT:
        return "\\A"
    if op == OP_END_TEXT:
        return "\\Z"  # Python's \Z is Go's \z: the very end, not before a trailing newline
    if op == OP_WORD_BOUNDARY:
        return f"(?:(?<={_ASCII_WORD})(?!{_ASCII_WORD})|(?<!{_ASCII_WORD})(?={_ASCII_WORD}))"
    if op == OP_NO_WORD_BOUNDARY:
        return f"(?:(?<={_ASCII_WORD})(?={_ASCII_WORD})|(?<!{_ASCII_WORD})(?!{_ASCII_WORD}))"
    if op == OP_CAPTURE:
        return "(?:" + to_python(node.subs[0]) + ")"
    if op in (OP_STAR, OP_PLUS, OP_QUEST, OP_REPEAT):
        return "(?:" + to_python(node.subs[0]) + ")" + _quantifier(node)
    if op == OP_CONCAT:
        return "".join(to_python(s) for s in node.subs)
    if op == OP_ALTERNATE:
        return "(?:" + "|".join(to_python(s) for s in node.subs) + ")"
    if op == OP_EMPTY_MATCH:
        return ""
    return "(?!)"


@functools.lru_cache(maxsize=256)
def compile_go(pattern: str) -> re.Pattern[str]:
    """A Python regex that accepts exactly what Go's regexp would; raises GoRegexError."""
    return re.compile(to_python(parse(pattern)))


def go_search(pattern: str, value: str) -> bool:
    """regexp.MatchString: does the pattern match anywhere in value."""
    return compile_go(pattern).search(value) is not None


def regex_error(pattern: str) -> str | None:
    """Go's parse error for an invalid pattern, None when it compiles."""
    try:
        compile_go(pattern)
    except GoRegexError as e:
        return str(e)
    return None


# -- random strings (security.RandomStringByRegex) ----------------------------------------------


class UnsupportedPatternError(ValueError):
    def __init__(self, op: int):
        super().__init__(f"unsupported pattern operator {op}")


def random_from_pattern(pattern: str) -> str:
    """A random string matching pattern; UnsupportedPatternError for anchors, \\b and empties."""
    out: list[str] = []
    _generate(parse(pattern), out)
    return "".join(out)


def _random_rune(ranges: Ranges | tuple[tuple[int, int], ...]) -> str:
    # like Go: pick a range first, then a rune in it (so [a-z0-9] is half digits)
    lo, hi = ranges[secrets.randbelow(len(ranges))]
    return chr(lo + secrets.randbelow(hi - lo + 1))


def _generate(node: Node, out: list[str]) -> None:
    op = node.op
    if op == OP_LITERAL:
        out.append(node.text)
    elif op == OP_CHAR_CLASS:
        if not node.ranges:
            raise UnsupportedPatternError(OP_NO_MATCH)
        out.append(_random_rune(node.ranges))
    elif op in (OP_ANY_CHAR_NOT_NL, OP_ANY_CHAR):
        out.append(_random_rune(ANY_CHAR_PAIRS))
    elif op == OP_ALTERNATE:
        _generate(node.subs[secrets.randbelow(len(node.subs))], out)
    elif op == OP_CONCAT:
        for sub in node.subs:
            _generate(sub, out)
    elif op == OP_CAPTURE:
        _generate(node.subs[0], out)
    elif op in (OP_STAR, OP_PLUS, OP_QUEST, OP_REPEAT):
        low, high = {OP_STAR: (0, -1), OP_PLUS: (1, -1), OP_QUEST: (0, 1)}.get(op, (node.min, node.max))
        if high < 0:
            high = DEFAULT_MAX_REPEAT
        high = max(high, low)
        # Go draws from [min, max): `x?` never repeats and `x{1,3}` gives 1 or 2
        count = low + (secrets.randbelow(high - low) if high != low else 0)
        for _ in range(count):
            _generate(node.subs[0], out)
    else:
        raise UnsupportedPatternError(op)

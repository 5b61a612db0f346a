"""Go's formatting of values, where PocketBase's output depends on it.

Error messages quote with `%q`; request values become strings with `cast.ToString` (LIKE
patterns) or `json.Marshal` (arrays/objects compared as text). Matching these keeps rule results
identical for the same request.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
}


def _escape(ch: str, quote: str) -> str:
    if ch == quote:
        return "\\" + ch
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def quote(s: str) -> str:
    """Go's `%q` / strconv.Quote for a string."""
    return '"' + "".join(_escape(ch, '"') for ch in s) + '"'


def quote_rune(ch: str) -> str:
    """Go's `%q` for a rune."""
    return "'" + _escape(ch, "'") + "'"


def format_float(f: float) -> str:
    """strconv.FormatFloat(f, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == int(f) and abs(f) < 1e16:
        return str(int(f))
    return format(Decimal(repr(f)), "f")


def to_string(v: Any) -> str:
    """spf13/cast.ToString for the values a parsed request can hold (containers give '')."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return ""


def _normalize_numbers(v: Any) -> Any:
    # Go decodes JSON numbers to float64 and encodes 5.0 back as `5`
    if isinstance(v, bool):
        return v
    if isinstance(v, float) and v == int(v) and abs(v) < 1e21:
        return int(v)
    if isinstance(v, dict):
        return {str(k): _normalize_numbers(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_normalize_numbers(x) for x in v]
    return v


def json_marshal(v: Any) -> str:
    """encoding/json.Marshal: compact, map keys sorted, `<>&` escaped for HTML safety."""
    out = json.dumps(
        _normalize_numbers(v), separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str
    )
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        out = out.replace(ch, esc)
    return out

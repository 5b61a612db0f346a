"""Go's value casts and number formatting, as PocketBase applies them to request input.

PocketBase decodes a JSON body into Go values (every number a float64) and casts them with
`spf13/cast`; its lenient outcomes ("abc" -> 0, [1] -> "", "on" -> false) are part of the API.
Number text follows Go's `strconv` rules, which differ from Python's `repr` and `float()`.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from json.encoder import encode_basestring  # json.dumps(str, ensure_ascii=False) without the setup
from typing import Any

# Go's ParseFloat decimal syntax: underscores only between digits, no surrounding whitespace.
_DIGITS = r"[0-9](?:_?[0-9])*"
_GO_DECIMAL = re.compile(rf"[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?")
_HEX = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_GO_HEX = re.compile(rf"[+-]?0[xX](?:_?)(?:{_HEX}(?:\.(?:{_HEX})?)?|\.{_HEX})[pP][+-]?{_DIGITS}")
_INFINITIES = ("inf", "infinity")

# Beyond 2^53 a float64 no longer holds every integer: Go would have rounded the JSON number.
_EXACT_INT = 2**53


def parse_go_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64); None where Go returns an error (syntax or overflow)."""
    if not text or not text.isascii():
        return None
    unsigned = text[1:] if text[0] in "+-" else text
    if unsigned.lower() in _INFINITIES:
        return -math.inf if text[0] == "-" else math.inf
    if text.lower() == "nan":  # Go accepts no sign in front of NaN
        return math.nan
    if _GO_HEX.fullmatch(text):
        value = float.fromhex(text.replace("_", ""))
    elif _GO_DECIMAL.fullmatch(text):
        value = float(text.replace("_", ""))
    else:
        return None
    # out of float64 range: Go answers ±Inf with ErrRange, which cast turns into 0
    return None if math.isinf(value) else value


def to_float(raw: Any) -> float:
    """cast.ToFloat64: bool -> 1/0, numeric strings parsed, anything else 0."""
    if raw is None:
        return 0.0
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        try:
            return float(raw)
        except OverflowError:
            return 0.0
    if isinstance(raw, str):
        parsed = parse_go_float(raw)
        return 0.0 if parsed is None else parsed
    return 0.0


def to_string(raw: Any) -> str:
    """cast.ToString: numbers in Go's plain notation, lists and objects become ""."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        return str(raw) if abs(raw) <= _EXACT_INT else format_f(float(raw))
    if isinstance(raw, float):
        return format_f(raw)
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return ""


_TRUE_STRINGS = frozenset(("1", "t", "T", "TRUE", "true", "True"))


def to_bool(raw: Any) -> bool:
    """cast.ToBool: strconv.ParseBool for strings (so "on" and "yes" are false)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return raw != 0
    if isinstance(raw, str):
        return raw in _TRUE_STRINGS
    return False


def to_unique_string_slice(raw: Any) -> list[str]:
    """PocketBase's list.ToUniqueStringSlice: non-empty, unique, first occurrence kept.

    A string holding `[` is tried as a JSON array of strings first (multipart sends arrays
    that way); any other scalar becomes a one-item list.
    """
    items: list[str]
    if raw is None:
        items = []
    elif isinstance(raw, str):
        items = _split_string(raw)
    elif isinstance(raw, list | tuple):
        items = [to_string(v) for v in raw]
    elif isinstance(raw, dict):
        items = []
    else:
        items = [to_string(raw)]
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _split_string(raw: str) -> list[str]:
    if raw == "":
        return []
    if "[" not in raw:
        return [raw]
    try:
        parsed = json.loads(raw)
    except ValueError:
        return [raw]
    # json.Unmarshal into []string: every item a string (null leaves "")
    if isinstance(parsed, list) and all(v is None or isinstance(v, str) for v in parsed):
        return [v or "" for v in parsed]
    return [raw]


# -- number formatting ---------------------------------------------------------------------------


def _shortest(value: float) -> tuple[str, str, int]:
    """Sign, shortest round-trip digits and decimal point position (value = 0.DIGITS * 10^point)."""
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(str(d) for d in digits).rstrip("0")
    assert isinstance(exponent, int)
    point = len(digits) + exponent
    if not text:
        return ("-" if sign else ""), "0", 1
    return ("-" if sign else ""), text, point


def _format_e(sign: str, digits: str, point: int, min_exp_digits: int = 2) -> str:
    exp = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp_sign = "-" if exp < 0 else "+"
    return f"{sign}{mantissa}e{exp_sign}{abs(exp):0{min_exp_digits}d}"


def _format_fixed(sign: str, digits: str, point: int) -> str:
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def format_f(value: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64): never an exponent (cast.ToString of a number)."""
    return _special(value) or _format_fixed(*_shortest(value))


def format_v(value: float) -> str:
    """fmt's %v for a float64, used in messages: exponent form from 1e+06 and below 1e-04."""
    special = _special(value)
    if special:
        return special
    sign, digits, point = _shortest(value)
    exp = point - 1
    if exp < -4 or exp >= 6:
        return _format_e(sign, digits, point)
    return _format_fixed(sign, digits, point)


def format_json_number(value: float) -> str:
    """encoding/json's float64 text: exponent below 1e-6 and from 1e21, as `1e-7`, `1e+21`."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError("unsupported JSON number")
    if 1e-4 <= abs(value) < 1e16:
        # Python's repr is the same shortest round-trip digits, and in this range plain
        # notation; only an integral value gets a ".0" Go does not print
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    sign, digits, point = _shortest(value)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return _format_e(sign, digits, point, min_exp_digits=1)
    return _format_fixed(sign, digits, point)


def json_number(value: float) -> int | float:
    """A float64 as Python's JSON would print it like Go: integral values without `.0`, and
    with Go's shortest digits (1.2345678901234567e19 prints as 12345678901234567000)."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        # up to 2^53 every integer is a float of its own, so its shortest digits are itself
        return int(value) if abs(value) <= _EXACT_INT else int(format_f(value))
    return value


def go_json_dumps(value: Any) -> str:
    """Compact JSON the way PocketBase stores it: map keys sorted, floats in Go's notation,
    no HTML escaping (PocketBase turns it off). Raises ValueError for NaN/Infinity."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) <= _EXACT_INT else format_json_number(float(value))
    if isinstance(value, float):
        return format_json_number(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json_dumps(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(_json_string(k) + ":" + go_json_dumps(v) for k, v in items) + "}"
    raise ValueError(f"unsupported JSON value {type(value).__name__}")


def _json_string(text: str) -> str:
    # Go escapes the JavaScript line separators even with HTML escaping off
    return encode_basestring(text).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def go_quote(text: str) -> str:
    """Go's %q for a printable string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

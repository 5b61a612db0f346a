"""The settings object's types and validation, as PocketBase 0.40 applies a `PATCH /api/settings`.

PocketBase binds the JSON body onto a copy of the current settings with Go's json v2, which
gives the patch semantics mirrored by `apply_patch`: objects merge key by key, arrays are
replaced whole (their items start from zero values), `null` resets a value to its zero value,
unknown keys are ignored, and a value of the wrong JSON type (`"25"` for a port, `1.5` for an
int) fails the whole request ("An error occurred while loading the submitted data.").
`validate` then reports every invalid field at once, nested like the settings object, with
ozzo-validation's codes and messages (checked against the 0.40.6 binary).
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from core.cron.schedule import CronSyntaxError, Schedule
from core.store import settings_webhooks
from core.store.fields.netfmt import is_email, is_url
from core.store.settings import default_settings

Errors = dict[str, Any]

RATE_LIMIT_RULE = {"label": "", "audience": "", "duration": 0, "maxRequests": 0}
RATE_LIMIT_AUDIENCES = ("", "@guest", "@auth")
# rateLimitRuleLabelRegex; Go's \w is ASCII-only
RATE_LIMIT_LABEL = re.compile(r"^(\w+ /[\w/-]*|/[\w/-]*|\w+:\w+|\*:\w+|\w+)$", re.ASCII)
SMTP_AUTH_METHODS = ("PLAIN", "LOGIN")
# govalidator's DNSName
DNS_NAME = re.compile(r"^([a-zA-Z0-9_][a-zA-Z0-9_-]{0,62})(\.[a-zA-Z0-9_][a-zA-Z0-9_-]{0,62})*[._]?$")
HEX_COLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
MAX_INT64 = 2**63 - 1


class SettingsLoadError(ValueError):
    """The patch does not fit the settings types (PocketBase fails to bind it)."""


# -- patching ----------------------------------------------------------------------------------
def _item_schema(path: tuple[str, ...]) -> Any:
    """The zero value of one array item: the arrays of objects are rate limit rules and webhooks."""
    if path == ("webhooks",):
        return settings_webhooks.ITEM
    return RATE_LIMIT_RULE if path == ("rateLimits", "rules") else ""


def zero_of(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: zero_of(v) for k, v in schema.items()}
    if isinstance(schema, bool):
        return False
    if isinstance(schema, int):
        return 0
    if isinstance(schema, str):
        return ""
    return []


def _bind(schema: Any, current: Any, value: Any, path: tuple[str, ...]) -> Any:
    if value is None:
        return zero_of(schema)
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise SettingsLoadError(path)
        out = copy.deepcopy(current) if isinstance(current, dict) else zero_of(schema)
        for key, item in value.items():
            if key in schema:
                out[key] = _bind(schema[key], out.get(key), item, (*path, key))
        return out
    if isinstance(schema, bool):
        if not isinstance(value, bool):
            raise SettingsLoadError(path)
        return value
    if isinstance(schema, int):
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INT64:
            raise SettingsLoadError(path)
        return value
    if isinstance(schema, str):
        if not isinstance(value, str):
            raise SettingsLoadError(path)
        return value
    if not isinstance(value, list):
        raise SettingsLoadError(path)
    item = _item_schema(path)
    return [_bind(item, None, v, path) for v in value]


def apply_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The full settings after binding `patch` onto `current`; raises SettingsLoadError."""
    schema = default_settings()
    out = copy.deepcopy(current)
    for key, value in patch.items():
        if key in schema:
            out[key] = _bind(schema[key], out.get(key), value, (key,))
    if "webhooks" in patch:
        out["webhooks"] = settings_webhooks.carry_over(current.get("webhooks") or [], out["webhooks"])
    return out


# -- error items -------------------------------------------------------------------------------
def _err(code: str, message: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "message": message}
    if params is not None:
        out["params"] = params
    return out


def sentence(raw: str) -> str:
    """PocketBase's inflector.Sentenize: capital first letter, final period."""
    text = raw[:1].upper() + raw[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


REQUIRED = _err("validation_required", "Cannot be blank.")
IN_INVALID = _err("validation_in_invalid", "Must be a valid value.")
MATCH_INVALID = _err("validation_match_invalid", "Must be in a valid format.")
IS_URL = _err("validation_is_url", "Must be a valid URL.")
IS_EMAIL = _err("validation_is_email", "Must be a valid email address.")
IS_HOST = _err("validation_is_host", "Must be a valid IP address or DNS name.")
IS_HEX_COLOR = _err("validation_is_hex_color", "Must be a valid hexadecimal color code.")
IP_OR_SUBNET = _err("validation_invlaid_ip_or_subnet", "Invalid IP or CIDR subnet.")  # sic


def min_err(threshold: int) -> dict[str, Any]:
    return _err(
        "validation_min_greater_equal_than_required",
        f"Must be no less than {threshold}.",
        {"threshold": threshold},
    )


def length_err(lo: int, hi: int) -> dict[str, Any]:
    if lo == hi:
        return _err("validation_length_invalid", f"The length must be exactly {lo}.", {"max": hi, "min": lo})
    return _err(
        "validation_length_out_of_range", f"The length must be between {lo} and {hi}.", {"max": hi, "min": lo}
    )


# -- value checks (ozzo rules skip empty values, except Required) -------------------------------
Rule = Callable[[Any], "dict[str, Any] | None"]


def required(value: Any) -> dict[str, Any] | None:
    return REQUIRED if value in ("", 0, [], None) or value is False else None


def when(cond: bool, rule: Rule) -> Rule:
    return rule if cond else (lambda _v: None)


def min_value(threshold: int) -> Rule:
    return lambda v: min_err(threshold) if v and v < threshold else None


def length(lo: int, hi: int) -> Rule:
    return lambda v: length_err(lo, hi) if v and not lo <= len(v) <= hi else None


def one_of(*allowed: str) -> Rule:
    return lambda v: IN_INVALID if v and v not in allowed else None


def check(predicate: Callable[[str], bool], error: dict[str, Any]) -> Rule:
    return lambda v: error if v and not predicate(v) else None


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return "%" not in value  # Go's net.ParseIP knows no zones


def is_host(value: str) -> bool:
    """ozzo is.Host: an IP or a DNS name."""
    if is_ip(value):
        return True
    return len(value.replace(".", "")) <= 255 and bool(DNS_NAME.match(value))


def is_ip_or_subnet(value: str) -> bool:
    try:
        if "/" in value:
            ipaddress.ip_network(value, strict=False)
        else:
            ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def cron_rule(value: str) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        Schedule.parse(value)
    except CronSyntaxError as e:
        return _err("validation_invalid_cron", sentence(str(e)))
    return None


def first_error(value: Any, *rules: Rule) -> dict[str, Any] | None:
    for rule in rules:
        error = rule(value)
        if error is not None:
            return error
    return None


def _fields(obj: dict[str, Any], spec: dict[str, tuple[Rule, ...]]) -> Errors:
    out: Errors = {}
    for key, rules in spec.items():
        error = first_error(obj.get(key), *rules)
        if error is not None:
            out[key] = error
    return out


def _ip_list(values: list[str]) -> Errors:
    out: Errors = {}
    for i, ip in enumerate(values):
        error = first_error(ip, required, check(is_ip_or_subnet, IP_OR_SUBNET))
        if error is not None:
            out[str(i)] = error
    return out


# -- sections ----------------------------------------------------------------------------------
def _meta(m: dict[str, Any]) -> Errors:
    return _fields(
        m,
        {
            "appName": (required, length(1, 255)),
            "appURL": (required, check(is_url, IS_URL)),
            "senderName": (required, length(1, 255)),
            "senderAddress": (check(is_email, IS_EMAIL), required),
            "accentColor": (length(7, 7), check(lambda v: bool(HEX_COLOR.match(v)), IS_HEX_COLOR)),
        },
    )


def _logs(c: dict[str, Any]) -> Errors:
    return _fields(c, {"maxDays": (min_value(0),), "maxDataSize": (min_value(0),)})


def _smtp(c: dict[str, Any]) -> Errors:
    on = bool(c.get("enabled"))
    return _fields(
        c,
        {
            "host": (when(on, required), check(is_host, IS_HOST)),
            "port": (when(on, required), min_value(0)),
            "authMethod": (one_of(*SMTP_AUTH_METHODS),),
            "localName": (check(is_host, IS_HOST),),
        },
    )


def _s3(c: dict[str, Any]) -> Errors:
    on = bool(c.get("enabled"))
    spec: dict[str, tuple[Rule, ...]] = {"endpoint": (check(is_url, IS_URL), when(on, required))}
    for key in ("bucket", "region", "accessKey", "secret"):
        spec[key] = (when(on, required),)
    return _fields(c, spec)


def _backups(c: dict[str, Any]) -> Errors:
    out = _fields(
        c,
        {"cron": (cron_rule,), "cronMaxKeep": (when(bool(c.get("cron")), required), min_value(1))},
    )
    s3 = _s3(c.get("s3") or {})
    if s3:
        out["s3"] = s3
    return out


def _batch(c: dict[str, Any]) -> Errors:
    on = bool(c.get("enabled"))
    return _fields(
        c,
        {
            "maxRequests": (when(on, required), min_value(0)),
            "timeout": (when(on, required), min_value(0)),
            "maxBodySize": (min_value(0),),
        },
    )


def _rate_limits(c: dict[str, Any]) -> Errors:
    out: Errors = {}
    rules: list[dict[str, Any]] = c.get("rules") or []
    if c.get("enabled") and not rules:
        out["rules"] = REQUIRED
    per_rule: Errors = {}
    for i, rule in enumerate(rules):
        errors = _fields(
            rule,
            {
                "label": (required, check(lambda v: bool(RATE_LIMIT_LABEL.match(v)), MATCH_INVALID)),
                "maxRequests": (required, min_value(1)),
                "duration": (required, min_value(1)),
                "audience": (one_of(*RATE_LIMIT_AUDIENCES),),
            },
        )
        if errors:
            per_rule[str(i)] = errors
    if per_rule:
        out["rules"] = per_rule
    elif "rules" not in out:
        conflict = _label_conflict(rules)
        if conflict:
            out["rules"] = conflict
    excluded = _ip_list(c.get("excludedIPs") or [])
    if excluded:
        out["excludedIPs"] = excluded
    return out


def _label_conflict(rules: list[dict[str, Any]]) -> Errors:
    """The first rule whose label+audience is a prefix of (or prefixed by) an earlier one."""
    seen: list[str] = []
    for i, rule in enumerate(rules):
        key = f"{rule.get('label', '')}@@{rule.get('audience', '')}"
        if any(k.startswith(key) or key.startswith(k) for k in seen):
            label = rule.get("label", "")
            return {
                str(i): {
                    "label": _err(
                        "validation_conflicting_rate_limit_rule",
                        f"Rate limit rule configuration with label {label} already exists or conflicts "
                        "with another rule.",
                        {"label": label},
                    )
                }
            }
        seen.append(key)
    return {}


SECTIONS: dict[str, Callable[[dict[str, Any]], Errors]] = {
    "meta": _meta,
    "logs": _logs,
    "smtp": _smtp,
    "s3": _s3,
    "backups": _backups,
    "batch": _batch,
    "rateLimits": _rate_limits,
}


def validate(settings: dict[str, Any]) -> Errors:
    """Every field error of a full settings object, nested like it (empty when valid)."""
    out: Errors = {}
    ips = _ip_list(settings.get("superuserIPs") or [])
    if ips:
        out["superuserIPs"] = ips
    for name, section in SECTIONS.items():
        errors = section(settings.get(name) or {})
        if errors:
            out[name] = errors
    hooks = settings_webhooks.validate(settings.get("webhooks") or [])
    if hooks:
        out["webhooks"] = hooks
    return _sorted(out)


def _sorted(errors: Errors) -> Errors:
    # Go serializes the error maps with sorted keys; keep the same order for identical JSON
    return {k: (v if isinstance(v.get("code"), str) else _sorted(v)) for k, v in sorted(errors.items())}

"""What each Settings tab edits: its inputs, by PocketBase's JSON path, and how a posted value
becomes the JSON the settings endpoint expects.

The tabs follow PocketBase's dashboard (ui/src/settings/): application (with superuser IPs and
"hide controls"), mail, file storage, rate limits, trusted proxy, batch and logs; backups and
crons have screens of their own. Secrets (smtp.password, s3.secret) are never shown: the API
masks them, and an input left empty keeps the stored value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.admin.forms import as_bool, as_int, nested

LEVELS = (("-4", "DEBUG (-4)"), ("0", "INFO (0)"), ("4", "WARN (4)"), ("8", "ERROR (8)"))
AUTH_METHODS = (("", "Default (PLAIN)"), ("PLAIN", "PLAIN"), ("LOGIN", "LOGIN"))
AUDIENCES = (("", "All"), ("@guest", "Guest only"), ("@auth", "Auth only"))
RULE_KEYS = ("label", "audience", "duration", "maxRequests")
RULES = "rateLimits.rules"
DEFAULT_ACCENT = "#1f5fbf"  # admin.css's --accent


@dataclass(frozen=True)
class Input:
    path: str
    label: str
    kind: str = "text"  # text, email, url, color, number, int-select, select, bool, secret, lines
    options: tuple[tuple[str, str], ...] = ()
    hint: str = ""


def s3_inputs(prefix: str, enable: str) -> tuple[Input, ...]:
    """An S3 bucket's settings (files storage and backups have one each)."""
    return (
        Input(f"{prefix}.enabled", enable, "bool"),
        Input(f"{prefix}.endpoint", "Endpoint"),
        Input(f"{prefix}.bucket", "Bucket"),
        Input(f"{prefix}.region", "Region"),
        Input(f"{prefix}.accessKey", "Access key"),
        Input(f"{prefix}.secret", "Secret", "secret", hint="Leave empty to keep the stored secret."),
        Input(f"{prefix}.forcePathStyle", "Force path-style addressing", "bool"),
    )


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    inputs: tuple[Input, ...] = ()
    href: str = ""  # a tab that is a screen of its own (which may still show these inputs)

    @property
    def url(self) -> str:
        return self.href or f"/_/settings/{self.key}"


TABS = (
    Tab(
        "application",
        "Application",
        (
            Input("meta.appName", "Application name"),
            Input("meta.appURL", "Application URL", "url", hint="Used in mail links and OAuth2 redirects."),
            Input("meta.accentColor", "Accent color", "color", hint="The dashboard's accent."),
            Input(
                "meta.hideControls",
                "Hide/Lock collection and record controls",
                "bool",
                hint="Against accidental changes in production: collection create and update buttons are hidden.",
            ),
            Input(
                "superuserIPs",
                "Superuser IPs",
                "lines",
                hint="One IP or CIDR per line. Superusers may only act from these; empty allows any.",
            ),
        ),
    ),
    Tab(
        "mail",
        "Mail",
        (
            Input("meta.senderName", "Sender name"),
            Input("meta.senderAddress", "Sender address", "email"),
            Input("smtp.enabled", "Use SMTP mail server (recommended)", "bool"),
            Input("smtp.host", "SMTP server host"),
            Input("smtp.port", "Port", "number"),
            Input("smtp.username", "Username"),
            Input("smtp.password", "Password", "secret", hint="Leave empty to keep the stored password."),
            Input("smtp.authMethod", "AUTH method", "select", AUTH_METHODS),
            Input("smtp.tls", "Use TLS", "bool"),
            Input("smtp.localName", "EHLO/HELO domain", hint="Empty: localhost."),
        ),
    ),
    Tab(
        "storage",
        "Files storage",
        (*s3_inputs("s3", "Use S3 storage"),),
    ),
    Tab(
        "backups",
        "Backups",
        (
            Input(
                "backups.cron",
                "Auto backups (cron expression)",
                hint="e.g. 0 0 * * * for every day at midnight. Empty: off.",
            ),
            Input("backups.cronMaxKeep", "Max auto backups to keep", "number"),
            *s3_inputs("backups.s3", "Store backups in S3"),
        ),
        href="/_/backups",
    ),
    Tab("crons", "Crons", href="/_/crons"),
    Tab(
        "ratelimits",
        "Rate limits",
        (
            Input("rateLimits.enabled", "Enable rate limiting", "bool"),
            Input("rateLimits.excludedIPs", "Excluded IPs", "lines", hint="One IP or CIDR per line."),
        ),
    ),
    Tab(
        "proxy",
        "Trusted proxy",
        (
            Input(
                "trustedProxy.headers",
                "Trusted IP proxy headers",
                "lines",
                hint="One header per line, e.g. X-Forwarded-For, Fly-Client-IP, CF-Connecting-IP. Empty: disabled.",
            ),
            Input(
                "trustedProxy.useLeftmostIP", "Use the leftmost IP of the header (else the rightmost)", "bool"
            ),
        ),
    ),
    Tab(
        "batch",
        "Batch",
        (
            Input("batch.enabled", "Enable batch requests", "bool"),
            Input("batch.maxRequests", "Max requests in a batch", "number"),
            Input("batch.timeout", "Timeout (seconds)", "number"),
            Input("batch.maxBodySize", "Max body size (bytes)", "number", hint="0: 128 MB."),
        ),
    ),
    Tab(
        "logs",
        "Logs",
        (
            Input("logs.maxDays", "Max days retention", "number", hint="0 disables logging."),
            Input("logs.minLevel", "Min log level", "int-select", LEVELS),
            Input("logs.logIP", "Enable IP logging", "bool"),
            Input("logs.logAuthId", "Enable auth id logging", "bool"),
        ),
    ),
)
BY_KEY = {t.key: t for t in TABS}


def value_at(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def shown(data: Any, item: Input) -> Any:
    """An input's current value as the form shows it."""
    value = value_at(data, item.path)
    if item.kind == "lines":
        return "\n".join(str(v) for v in value or [])
    if item.kind == "secret":
        return ""
    if item.kind == "color" and not value:
        return DEFAULT_ACCENT  # a color input always posts a color: show the one in use
    return "" if value is None else value


def posted(tab: Tab, form: Mapping[str, Any]) -> bool:
    """Whether `form` is `tab`'s: every input but the checkboxes is always posted."""
    return all(item.path in form for item in tab.inputs if item.kind not in ("bool", "secret"))


def patch_of(tab: Tab, form: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH /api/settings body for what `tab`'s form posted."""
    flat: dict[str, Any] = {}
    for item in tab.inputs:
        raw = form.get(item.path)
        text = raw if isinstance(raw, str) else ""
        if item.kind == "bool":
            flat[item.path] = as_bool(text)  # an unchecked box is not posted at all
        elif item.kind in ("number", "int-select"):
            flat[item.path] = as_int(text)
        elif item.kind == "lines":
            flat[item.path] = [line.strip() for line in text.splitlines() if line.strip()]
        elif item.kind == "secret":
            if text:
                flat[item.path] = text
        else:
            flat[item.path] = text.strip()
    body = nested(flat)
    if tab.key == "ratelimits":
        body.setdefault("rateLimits", {})["rules"] = rules_of(form)
    return body


def rules_of(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rate-limit rules table (`rateLimits.rules.N.label`, ...), in row order."""
    rows: dict[int, dict[str, Any]] = {}
    prefix = f"{RULES}."
    for name, value in form.items():
        if not name.startswith(prefix) or not isinstance(value, str):
            continue
        index, _, key = name[len(prefix) :].partition(".")
        if index.isdigit() and key in RULE_KEYS:
            rows.setdefault(int(index), {})[key] = value
    out = []
    for _, row in sorted(rows.items()):
        out.append(
            {
                "label": row.get("label", "").strip(),
                "audience": row.get("audience", ""),
                "duration": as_int(row.get("duration", "")),
                "maxRequests": as_int(row.get("maxRequests", "")),
            }
        )
    return out


def merged(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`current` with `patch` laid over it (lists replace): what a re-rendered form shows."""
    out = dict(current)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out

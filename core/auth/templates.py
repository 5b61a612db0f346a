"""Auth email templates: PocketBase's placeholders and the HTML layout every mail is wrapped in.

A collection's template (`verificationTemplate`, `otp.emailTemplate`, ...) is `{subject, body}`
with placeholders: `{APP_NAME}`, `{APP_URL}`, `{TOKEN}`, `{OTP}`, `{OTP_ID}`, `{ALERT_INFO}` and
`{RECORD:<field>}` for every non-hidden field of the auth record (HTML-escaped, except dates,
bools and numbers, as PocketBase does).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

from core.store.schema import Collection

APP_NAME = "{APP_NAME}"
APP_URL = "{APP_URL}"
TOKEN = "{TOKEN}"
OTP = "{OTP}"
OTP_ID = "{OTP_ID}"
ALERT_INFO = "{ALERT_INFO}"

_UNESCAPED_TYPES = ("autodate", "date", "bool", "number")
_PLACEHOLDER = re.compile(r"\{[A-Z_]+(?::[A-Za-z0-9_]+)?\}")

# Our own minimal layout (PocketBase wraps the body the same way): a full HTML document, so the
# text alternative and any mail client see the same structure.
LAYOUT = """
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
    <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
    <meta name="viewport" content="width=device-width,initial-scale=1" />
    <style>
        body { margin: 0; padding: 20px 30px; color: #16161a; background: #fff;
               font: 14px/20px sans-serif; }
        p { margin: 10px 0; }
        .btn { display: inline-block; padding: 0 20px; line-height: 40px; min-width: 150px;
               text-align: center; border-radius: 6px; font-weight: bold;
               color: #fff !important; background: #16161a !important;
               text-decoration: none !important; }
    </style>
</head>
<body>
    {CONTENT}
</body>
</html>
"""


def record_placeholders(col: Collection, record: Mapping[str, Any]) -> dict[str, str]:
    """`{RECORD:field}` values for the record's visible fields."""
    out: dict[str, str] = {}
    for f in col.fields:
        if f.hidden:
            continue
        value = _as_string(record.get(f.name))
        out["{RECORD:" + f.name + "}"] = value if f.type in _UNESCAPED_TYPES else html.escape(value)
    return out


def _as_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def resolve(template: Mapping[str, Any], placeholders: Mapping[str, str]) -> tuple[str, str]:
    """(subject, full HTML body) of a template with its placeholders replaced.

    One pass over the template: a value that itself looks like a placeholder (a user named
    "{TOKEN}") is never expanded, so record data cannot pull a secret into the mail.
    """

    def sub(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: placeholders.get(m.group(0), m.group(0)), text)

    subject = sub(str(template.get("subject") or ""))
    body = sub(str(template.get("body") or ""))
    return subject, LAYOUT.replace("{CONTENT}", body, 1)

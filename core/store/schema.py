"""Collections and fields as PocketBase describes them.

Pure data: no SQLite, no web. The JSON shape of every object here is PocketBase 0.40's, so a
collection round-trips through the API unchanged. How a field type validates and stores its
values lives in `core.store.fields`; this module only knows names, options and storage shape.

Storage conventions (the same as PocketBase, so filters compare the same things):
- text, email, url, editor, date, autodate, password: TEXT NOT NULL DEFAULT ''
- number: NUMERIC NOT NULL DEFAULT 0; bool: BOOLEAN (0/1) NOT NULL DEFAULT FALSE
- select, file, relation: single (maxSelect <= 1) TEXT DEFAULT '';
  multi (maxSelect > 1) JSON text of an array, DEFAULT '[]'
- json: JSON text or NULL; geoPoint: JSON text `{"lon":..,"lat":..}`
- id: TEXT PRIMARY KEY
"""

from __future__ import annotations

import copy
import re
import secrets
import zlib
from dataclasses import dataclass, field
from typing import Any

FIELD_TYPES = (
    "text",
    "number",
    "bool",
    "email",
    "url",
    "editor",
    "date",
    "autodate",
    "select",
    "file",
    "relation",
    "json",
    "password",
    "geoPoint",
)

COLLECTION_TYPES = ("base", "auth", "view")

# Options every field type carries in its JSON, with PocketBase's defaults.
FIELD_OPTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "text": {"autogeneratePattern": "", "max": 0, "min": 0, "pattern": "", "primaryKey": False},
    "number": {"max": None, "min": None, "onlyInt": False},
    "bool": {},
    "email": {"exceptDomains": [], "onlyDomains": []},
    "url": {"exceptDomains": [], "onlyDomains": []},
    "editor": {"convertURLs": False, "maxSize": 0},
    "date": {"max": "", "min": ""},
    "autodate": {"onCreate": True, "onUpdate": False},
    "select": {"maxSelect": 0, "values": []},
    "file": {"maxSelect": 0, "maxSize": 0, "mimeTypes": [], "protected": False, "thumbs": []},
    "relation": {"cascadeDelete": False, "collectionId": "", "maxSelect": 0, "minSelect": 0},
    "json": {"maxSize": 0},
    "password": {"cost": 0, "max": 0, "min": 0, "pattern": ""},
    "geoPoint": {},
}

COMMON_FIELD_KEYS = ("id", "name", "type", "system", "hidden", "presentable")
RULE_NAMES = ("listRule", "viewRule", "createRule", "updateRule", "deleteRule")
AUTH_RULE_NAMES = ("authRule", "manageRule")

MULTI_VALUE_TYPES = ("select", "file", "relation")
NAME_RE = re.compile(r"^[a-zA-Z0-9_]+$")


def field_id(type_: str, name: str) -> str:
    """PocketBase's default field id: type + crc32(name), e.g. `text3208210256` for `id`."""
    return f"{type_}{zlib.crc32(name.encode())}"


@dataclass
class Field:
    name: str
    type: str
    id: str = ""
    system: bool = False
    hidden: bool = False
    presentable: bool = False
    required: bool = False
    help: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        defaults = FIELD_OPTION_DEFAULTS.get(self.type, {})
        merged = copy.deepcopy(defaults)
        merged.update(self.options)
        self.options = merged
        if not self.id:
            self.id = field_id(self.type, self.name)

    def opt(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    @property
    def is_multi(self) -> bool:
        """Multi-valued select/file/relation: stored as a JSON array."""
        return self.type in MULTI_VALUE_TYPES and int(self.options.get("maxSelect") or 0) > 1

    @property
    def has_required(self) -> bool:
        return self.type != "autodate"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Field:
        type_ = str(data.get("type", ""))
        known = FIELD_OPTION_DEFAULTS.get(type_, {})
        options = {k: copy.deepcopy(data[k]) for k in known if k in data}
        return cls(
            name=str(data.get("name", "")),
            type=type_,
            id=str(data.get("id") or ""),
            system=bool(data.get("system", False)),
            hidden=bool(data.get("hidden", False)),
            presentable=bool(data.get("presentable", False)),
            required=bool(data.get("required", False)),
            help=str(data.get("help", "") or ""),
            options=options,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hidden": self.hidden,
            "id": self.id,
            "name": self.name,
            "presentable": self.presentable,
            "system": self.system,
            "type": self.type,
        }
        if self.has_required:
            out["help"] = self.help
            out["required"] = self.required
        out.update(copy.deepcopy(self.options))
        return dict(sorted(out.items()))


def new_collection_id() -> str:
    return "pbc_" + str(secrets.randbelow(9_000_000_000) + 1_000_000_000)


@dataclass
class Collection:
    name: str
    type: str = "base"
    id: str = ""
    system: bool = False
    fields: list[Field] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    listRule: str | None = None
    viewRule: str | None = None
    createRule: str | None = None
    updateRule: str | None = None
    deleteRule: str | None = None
    viewQuery: str = ""
    # auth-only options (authRule, manageRule, oauth2, passwordAuth, mfa, otp, token
    # configs with their secrets, templates) kept as PocketBase's JSON objects
    auth: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    updated: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = new_collection_id()

    @property
    def is_auth(self) -> bool:
        return self.type == "auth"

    @property
    def is_view(self) -> bool:
        return self.type == "view"

    def get_field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def field_by_id(self, id_: str) -> Field | None:
        for f in self.fields:
            if f.id == id_:
                return f
        return None

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def rule(self, name: str) -> str | None:
        if name in AUTH_RULE_NAMES:
            return self.auth.get(name)
        return getattr(self, name)

    def to_json(self, *, hide_secrets: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "listRule": self.listRule,
            "viewRule": self.viewRule,
            "createRule": self.createRule,
            "updateRule": self.updateRule,
            "deleteRule": self.deleteRule,
            "name": self.name,
            "type": self.type,
            "fields": [f.to_json() for f in self.fields],
            "indexes": list(self.indexes),
            "created": self.created,
            "updated": self.updated,
            "system": self.system,
        }
        if self.is_view:
            out["viewQuery"] = self.viewQuery
        if self.is_auth:
            auth = copy.deepcopy(self.auth)
            if hide_secrets:
                for key in TOKEN_CONFIG_KEYS:
                    if isinstance(auth.get(key), dict):
                        auth[key].pop("secret", None)
                oauth2 = auth.get("oauth2") or {}
                for provider in oauth2.get("providers") or []:
                    if isinstance(provider, dict):
                        provider.pop("clientSecret", None)
            out.update(auth)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Collection:
        col = cls(
            name=str(data.get("name", "")),
            type=str(data.get("type") or "base"),
            id=str(data.get("id") or ""),
            system=bool(data.get("system", False)),
            fields=[Field.from_json(f) for f in data.get("fields") or []],
            indexes=list(data.get("indexes") or []),
            viewQuery=str(data.get("viewQuery") or ""),
            created=str(data.get("created") or ""),
            updated=str(data.get("updated") or ""),
        )
        for rule in RULE_NAMES:
            setattr(col, rule, data.get(rule))
        if col.is_auth:
            col.auth = auth_defaults()
            for key in AUTH_OPTION_KEYS:
                if key in data:
                    col.auth[key] = merge_option(col.auth.get(key), data[key])
        return col


TOKEN_CONFIG_KEYS = (
    "authToken",
    "passwordResetToken",
    "emailChangeToken",
    "verificationToken",
    "fileToken",
)

AUTH_OPTION_KEYS = (
    "authRule",
    "manageRule",
    "authAlert",
    "oauth2",
    "passwordAuth",
    "mfa",
    "otp",
    *TOKEN_CONFIG_KEYS,
    "verificationTemplate",
    "resetPasswordTemplate",
    "confirmEmailChangeTemplate",
)


def merge_option(current: Any, patch: Any) -> Any:
    """Deep-merge a partial option update (`{otp:{enabled:true}}`) into the current value."""
    if isinstance(current, dict) and isinstance(patch, dict):
        out = copy.deepcopy(current)
        for k, v in patch.items():
            out[k] = merge_option(out.get(k), v)
        return out
    return copy.deepcopy(patch)


def _template(subject: str, body: str) -> dict[str, str]:
    return {"subject": subject, "body": body}


def _email_body(lines: str) -> str:
    return "<p>Hello,</p>\n" + lines + "\n<p>\n  Thanks,<br/>\n  {APP_NAME} team\n</p>"


def _button(url: str, label: str) -> str:
    return (
        f'<p>\n  <a class="btn" href="{{APP_URL}}/_/#/auth/{url}/{{TOKEN}}" '
        f'target="_blank" rel="noopener">{label}</a>\n</p>'
    )


def random_secret(length: int = 50) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def auth_defaults(auth_duration: int = 432000) -> dict[str, Any]:
    """PocketBase 0.40's defaults for a new auth collection (secrets freshly generated)."""
    return {
        "authRule": "",
        "manageRule": None,
        "authAlert": {
            "enabled": True,
            "emailTemplate": _template(
                "Login from a new location",
                _email_body(
                    "<p>We noticed a login to your {APP_NAME} account from a new location:</p>\n"
                    "<p><em>{ALERT_INFO}</em></p>\n"
                    "<p><strong>If this wasn't you, you should immediately change your {APP_NAME} "
                    "account password to revoke access from all other locations.</strong></p>\n"
                    "<p>If this was you, you may disregard this email.</p>"
                ),
            ),
        },
        "oauth2": {
            "providers": [],
            "mappedFields": {"id": "", "name": "", "username": "", "avatarURL": ""},
            "enabled": False,
        },
        "passwordAuth": {"enabled": True, "identityFields": ["email"]},
        "mfa": {"enabled": False, "duration": 600, "rule": ""},
        "otp": {
            "enabled": False,
            "duration": 180,
            "length": 8,
            "emailTemplate": _template(
                "OTP for {APP_NAME}",
                _email_body(
                    "<p>Your one-time password is: <strong>{OTP}</strong></p>\n"
                    "<p><i>If you didn't ask for the one-time password, you can ignore this email.</i></p>"
                ),
            ),
        },
        "authToken": {"duration": auth_duration, "secret": random_secret()},
        "passwordResetToken": {"duration": 1800, "secret": random_secret()},
        "emailChangeToken": {"duration": 1800, "secret": random_secret()},
        "verificationToken": {"duration": 86400, "secret": random_secret()},
        "fileToken": {"duration": 180, "secret": random_secret()},
        "verificationTemplate": _template(
            "Verify your {APP_NAME} email",
            _email_body(
                "<p>Thank you for joining us at {APP_NAME}.</p>\n"
                "<p>Click on the button below to verify your email address.</p>\n"
                + _button("confirm-verification", "Verify")
                + "\n<p><i>If you didn't recently register, please ignore this email.</i></p>"
            ),
        ),
        "resetPasswordTemplate": _template(
            "Reset your {APP_NAME} password",
            _email_body(
                "<p>Click on the button below to reset your password.</p>\n"
                + _button("confirm-password-reset", "Reset password")
                + "\n<p><i>If you didn't ask to reset your password, please ignore this email.</i></p>"
            ),
        ),
        "confirmEmailChangeTemplate": _template(
            "Confirm your {APP_NAME} new email address",
            _email_body(
                "<p>Click on the button below to confirm your new email address.</p>\n"
                + _button("confirm-email-change", "Confirm new email")
                + "\n<p><i>If you didn't ask to change your email address, please ignore this email.</i></p>"
            ),
        ),
    }


def id_field() -> Field:
    return Field(
        name="id",
        type="text",
        system=True,
        required=True,
        options={
            "autogeneratePattern": "[a-z0-9]{15}",
            "max": 15,
            "min": 15,
            "pattern": "^[a-z0-9]+$",
            "primaryKey": True,
        },
    )


def auth_system_fields() -> list[Field]:
    """The fields every auth collection has, in PocketBase's order (after `id`)."""
    return [
        Field(name="password", type="password", system=True, hidden=True, required=True, options={"min": 8}),
        Field(
            name="tokenKey",
            type="text",
            system=True,
            hidden=True,
            required=True,
            options={"autogeneratePattern": "[a-zA-Z0-9]{50}", "max": 60, "min": 30},
        ),
        Field(name="email", type="email", system=True, required=True),
        Field(name="emailVisibility", type="bool", system=True),
        Field(name="verified", type="bool", system=True),
    ]


def autodate_fields() -> list[Field]:
    return [
        Field(name="created", type="autodate", system=True, options={"onCreate": True, "onUpdate": False}),
        Field(name="updated", type="autodate", system=True, options={"onCreate": True, "onUpdate": True}),
    ]

"""The collection editor's form, as PocketBase's collection JSON and back (pure, no web).

The editor is one HTML form whose inputs are named by the JSON path of what they edit
(`name`, `listRule`, `fields.3.maxSelect`, `otp.emailTemplate.subject`), so PocketBase's
validation errors (`{"fields": {"3": {"maxSelect": ...}}}`, flattened to `fields.3.maxSelect`)
land next to the input that caused them. The server keeps no editor state: every button
(add a field, move it, remove it, add an index or a provider) posts the whole form, gets the
draft back from `parse`, changes it with one of the `ops` and renders the editor again.

A field's options are rendered from PocketBase's defaults of its type (core.store.schema
FIELD_OPTION_DEFAULTS): the type of a default tells the input (bool: checkbox, list: comma
separated text, None: optional number, int: number, str: text), so a new option of a field type
shows up in the editor without touching it.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.admin.forms import as_bool, as_int, nested
from core.store.schema import (
    AUTH_RULE_NAMES,
    FIELD_OPTION_DEFAULTS,
    FIELD_TYPES,
    RULE_NAMES,
    TOKEN_CONFIG_KEYS,
)

COMMON_CHECKS = ("required", "hidden", "presentable")
# the mail templates of an auth collection, by the JSON path of their {subject, body}
TEMPLATES = (
    ("verificationTemplate", "Verification"),
    ("resetPasswordTemplate", "Password reset"),
    ("confirmEmailChangeTemplate", "Confirm email change"),
    ("otp.emailTemplate", "One-time password"),
    ("authAlert.emailTemplate", "Login alert"),
)
AUTH_CHECKS = ("passwordAuth.enabled", "otp.enabled", "mfa.enabled", "oauth2.enabled", "authAlert.enabled")
AUTH_NUMBERS = (
    "otp.duration",
    "otp.length",
    "mfa.duration",
    *(f"{key}.duration" for key in TOKEN_CONFIG_KEYS),
)
MAPPED_FIELDS = ("id", "name", "username", "avatarURL")
PROVIDER_KEYS = ("name", "clientId", "clientSecret", "displayName", "authURL", "tokenURL", "userInfoURL")
OPTION_LABELS = {
    "min": "Min",
    "max": "Max",
    "pattern": "Regex pattern",
    "autogeneratePattern": "Autogenerate pattern",
    "onlyInt": "Integers only",
    "exceptDomains": "Except domains",
    "onlyDomains": "Only domains",
    "convertURLs": "Convert URLs",
    "maxSize": "Max size (bytes)",
    "onCreate": "Set on create",
    "onUpdate": "Set on update",
    "values": "Choices",
    "maxSelect": "Max select",
    "minSelect": "Min select",
    "mimeTypes": "Allowed MIME types",
    "thumbs": "Thumb sizes (e.g. 100x100)",
    "protected": "Protected",
    "collectionId": "Related collection",
    "cascadeDelete": "Cascade delete",
    "cost": "Bcrypt cost",
}
# options only PocketBase itself sets; the editor carries them along unchanged
CARRIED = ("primaryKey",)


@dataclass(frozen=True)
class Option:
    """One option input of a field: its JSON key, label and kind (check, list, number, text)."""

    key: str
    label: str
    kind: str


def option_kind(default: Any) -> str:
    if isinstance(default, bool):
        return "check"
    if isinstance(default, list):
        return "list"
    if default is None or isinstance(default, int | float):
        return "number"
    return "text"


def options_of(field_type: str) -> list[Option]:
    defaults = FIELD_OPTION_DEFAULTS.get(field_type, {})
    return [
        Option(key, OPTION_LABELS.get(key, key), "relation" if key == "collectionId" else option_kind(value))
        for key, value in defaults.items()
        if key not in CARRIED
    ]


def display(value: Any, kind: str) -> str:
    """An option's value as its input shows it."""
    if kind == "list":
        return ", ".join(str(v) for v in value or [])
    return "" if value is None else str(value)


# -- form -> draft ----------------------------------------------------------------------------


def _listed(node: Any) -> list[Any]:
    """`{"0": a, "1": b}` (what nested() makes of `x.0`, `x.1`) as `[a, b]`, in index order."""
    if isinstance(node, list):
        return node
    if not isinstance(node, Mapping):
        return []
    keys = sorted((k for k in node if str(k).isdigit()), key=int)
    return [node[k] for k in keys]


def _csv(value: Any) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _number(value: Any) -> Any:
    """An optional number: blank is None; what is not a number goes on as typed (PocketBase says why)."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _option(kind: str, raw: Any, default: Any) -> Any:
    if kind == "check":
        return as_bool(raw)
    if kind == "list":
        return _csv(raw)
    if kind == "number":
        return _number(raw) if default is None else as_int(raw if raw is not None else "", 0)
    return str(raw or "")


def parse_field(raw: Mapping[str, Any]) -> dict[str, Any]:
    field_type = str(raw.get("type") or "text")
    out: dict[str, Any] = {"name": str(raw.get("name") or "").strip(), "type": field_type}
    if raw.get("id"):
        out["id"] = str(raw["id"])
    out["system"] = as_bool(raw.get("system"))
    for key in COMMON_CHECKS:
        out[key] = as_bool(raw.get(key))
    if field_type != "autodate":
        out["help"] = str(raw.get("help") or "")
    defaults = FIELD_OPTION_DEFAULTS.get(field_type, {})
    for option in options_of(field_type):
        out[option.key] = _option(
            "text" if option.kind == "relation" else option.kind, raw.get(option.key), defaults[option.key]
        )
    for key in CARRIED:
        if key in defaults:
            out[key] = as_bool(raw.get(key))
    return out


def _rule(form: Mapping[str, Any], name: str) -> str | None:
    # "Superusers only" is PocketBase's null rule; an empty text is a public rule
    if as_bool(form.get(f"locked.{name}")):
        return None
    return str(form.get(name) or "")


def parse(form: Mapping[str, Any]) -> dict[str, Any]:
    """The collection JSON the editor's posted form describes."""
    tree = nested(form)
    col_type = str(form.get("type") or "base")
    draft: dict[str, Any] = {"name": str(form.get("name") or "").strip(), "type": col_type}
    if form.get("collectionId"):
        draft["id"] = str(form["collectionId"])
    names = list(RULE_NAMES) + (list(AUTH_RULE_NAMES) if col_type == "auth" else [])
    for name in names:
        draft[name] = _rule(form, name)
    if col_type == "view":
        draft["viewQuery"] = str(form.get("viewQuery") or "")
    else:
        draft["fields"] = [parse_field(f) for f in _listed(tree.get("fields")) if isinstance(f, Mapping)]
        draft["indexes"] = [str(i).strip() for i in _listed(tree.get("indexes")) if str(i).strip()]
    if col_type == "auth":
        draft.update(_auth_options(form, tree))
    return draft


def _auth_options(form: Mapping[str, Any], tree: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in AUTH_CHECKS:
        _put(out, path, as_bool(form.get(path)))
    for path in AUTH_NUMBERS:
        _put(out, path, as_int(form.get(path, ""), 0))
    _put(out, "passwordAuth.identityFields", _csv(form.get("passwordAuth.identityFields")))
    _put(out, "mfa.rule", str(form.get("mfa.rule") or ""))
    for key in MAPPED_FIELDS:
        _put(out, f"oauth2.mappedFields.{key}", str(form.get(f"oauth2.mappedFields.{key}") or ""))
    providers = []
    for raw in _listed((tree.get("oauth2") or {}).get("providers")):
        provider = {k: str(raw.get(k) or "").strip() for k in PROVIDER_KEYS if k in raw}
        if not provider.get("clientSecret"):
            # blank keeps the stored secret, which the API never shows (as PocketBase's own form)
            provider.pop("clientSecret", None)
        providers.append(provider)
    _put(out, "oauth2.providers", providers)
    for path, _ in TEMPLATES:
        for part in ("subject", "body"):
            _put(out, f"{path}.{part}", str(form.get(f"{path}.{part}") or ""))
    return out


def _put(node: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def get(node: Any, path: str, default: Any = "") -> Any:
    """The value at a dotted JSON path of a draft (templates read auth options with it)."""
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


# -- the editor's buttons -------------------------------------------------------------------


def new_field(field_type: str, taken: list[str]) -> dict[str, Any]:
    """A field of `field_type` with PocketBase's defaults and a free name (`field`, `field2`...)."""
    if field_type not in FIELD_TYPES:
        field_type = "text"
    base = field_type.lower()
    name, n = base, 1
    lowered = {t.lower() for t in taken}
    while name.lower() in lowered:
        n += 1
        name = f"{base}{n}"
    out = parse_field({"name": name, "type": field_type})
    out.update(copy.deepcopy(FIELD_OPTION_DEFAULTS.get(field_type, {})))
    if field_type == "autodate":
        out["onCreate"] = True
    return out


def move(items: list[Any], index: int, step: int) -> None:
    """Swap item `index` with its neighbour (-1 up, +1 down); out of range does nothing."""
    other = index + step
    if 0 <= index < len(items) and 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]


def remove(items: list[Any], index: int) -> None:
    if 0 <= index < len(items):
        del items[index]


_COLUMN = re.compile(r"^[A-Za-z0-9_]+$")


def index_sql(collection: str, columns: str, unique: bool) -> str | None:
    """`CREATE [UNIQUE] INDEX` on the named columns, PocketBase's `idx_<random>` naming; None
    when a column is not a plain name."""
    names = _csv(columns)
    if not names or not all(_COLUMN.match(n) for n in names):
        return None
    cols = ", ".join(f"`{n}`" for n in names)
    kind = "UNIQUE INDEX" if unique else "INDEX"
    return f"CREATE {kind} `idx_{secrets.token_hex(5)}` ON `{collection}` ({cols})"


def apply_op(draft: dict[str, Any], op: str, index: int, form: Mapping[str, Any]) -> str:
    """Change the draft as a button of the editor asks; returns what to tell the user ("" = nothing)."""
    fields = draft.setdefault("fields", []) if draft.get("type") != "view" else []
    if op == "add-field":
        fields.append(new_field(str(form.get("newFieldType") or "text"), [f["name"] for f in fields]))
    elif op in ("up", "down"):
        move(fields, index, -1 if op == "up" else 1)
    elif op == "remove-field":
        if 0 <= index < len(fields) and fields[index].get("system"):
            return "System fields cannot be removed."
        remove(fields, index)
    elif op == "add-index":
        sql = index_sql(
            draft.get("name") or "",
            str(form.get("newIndex.columns") or ""),
            as_bool(form.get("newIndex.unique")),
        )
        if sql is None:
            return "Name the index's columns, separated by commas."
        draft.setdefault("indexes", []).append(sql)
    elif op == "remove-index":
        remove(draft.setdefault("indexes", []), index)
    elif op == "add-provider":
        oauth2 = draft.setdefault("oauth2", {})
        oauth2.setdefault("providers", []).append(
            {"name": str(form.get("newProvider") or ""), "clientId": ""}
        )
    elif op == "remove-provider":
        remove(draft.setdefault("oauth2", {}).setdefault("providers", []), index)
    return ""


def move_to(items: list[Any], index: int, target: int) -> None:
    """Drag and drop: item `index` now sits at `target`."""
    if 0 <= index < len(items) and 0 <= target < len(items):
        items.insert(target, items.pop(index))


_INDEX_TABLE = re.compile(r"(\bON\s+)(`[^`]*`|\"[^\"]*\"|\[[^\]]*\]|[A-Za-z0-9_]*)(\s*\()", re.IGNORECASE)


def retarget_indexes(draft: dict[str, Any]) -> None:
    """Point every index at the collection's current name: an index added before the
    collection was named, or before a rename, names the table it had then (PocketBase's own
    form rewrites the indexes on a rename too)."""
    name = str(draft.get("name") or "")
    if name and draft.get("indexes"):
        draft["indexes"] = [
            _INDEX_TABLE.sub(lambda m: f"{m[1]}`{name}`{m[3]}", sql, count=1) for sql in draft["indexes"]
        ]

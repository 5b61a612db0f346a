"""What the collection editor checks before anything is saved (reads only, never a write).

- API rules go through the store's own filter compiler (`check_rule_syntax`, the check a save
  runs), against the draft as typed: a rule may name a field that is not saved yet.
- A view query goes through the store's own inference of a view's fields (`infer_view_fields`)
  on a reader connection: the preview lists the fields a save would give the view.
- A mail template is resolved with core.auth.templates (the code that builds the real mails)
  with sample values, and shown in a sandboxed frame.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from core.app import App
from core.auth import templates
from core.errors import ApiError
from core.store.collections import infer_view_fields
from core.store.filter import FilterError, check_rule_syntax
from core.store.schema import AUTH_RULE_NAMES, RULE_NAMES, Collection

SAMPLE = {
    templates.TOKEN: "SAMPLE_TOKEN",
    templates.OTP: "123456",
    templates.OTP_ID: "SAMPLE_OTP_ID",
    templates.ALERT_INFO: "Chrome on Linux, 127.0.0.1",
}


def rule_names(draft: Mapping[str, Any]) -> list[str]:
    return list(RULE_NAMES) + (list(AUTH_RULE_NAMES) if draft.get("type") == "auth" else [])


def check_rules(app: App, draft: Mapping[str, Any]) -> dict[str, str]:
    """{rule name: the compiler's message} of the draft's rules that do not compile."""
    col = _collection(app, draft)
    out: dict[str, str] = {}
    for name in rule_names(draft):
        try:
            check_rule_syntax(draft.get(name), col, app.store.registry.find)
        except FilterError as exc:
            out[name] = exc.rule_message()
        except Exception:  # the compiler's own guard: anything else is an invalid rule too
            out[name] = "Invalid rule."
    return out


def _collection(app: App, draft: Mapping[str, Any]) -> Collection:
    data = copy.deepcopy(dict(draft))
    if not data.get("id"):
        data.pop("id", None)
    col = Collection.from_json(data)
    saved = app.store.registry.find(str(draft.get("id") or "")) if draft.get("id") else None
    if saved is not None and col.is_view:
        col.fields = copy.deepcopy(saved.fields)
    return col


async def preview_view(app: App, query: str) -> tuple[list[dict[str, Any]], str]:
    """(the fields a view with this query would get, or the error a save would show)."""
    col = Collection(name="_core_preview", type="view", id="", viewQuery=query)
    try:
        await app.store.db.read(lambda conn: infer_view_fields(conn, col, app.store.registry))
    except ApiError as exc:
        message = (exc.data or {}).get("viewQuery", {}).get("message") if isinstance(exc.data, dict) else ""
        return [], str(message or exc.message)
    return [f.to_json() for f in col.fields], ""


def preview_template(app: App, template: Mapping[str, Any], record: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, HTML) of a mail template with sample values, as the mailer would resolve it."""
    meta = app.store.settings.get().get("meta") or {}
    values = {
        templates.APP_NAME: str(meta.get("appName") or ""),
        templates.APP_URL: str(meta.get("appURL") or ""),
        **SAMPLE,
        **{"{RECORD:" + k + "}": str(v) for k, v in record.items()},
    }
    return templates.resolve(template, values)


def risky_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What saving `new` over `old` would do to existing data, for a confirmation first (the
    changes PocketBase's own dashboard asks about: a renamed collection, renamed or deleted
    fields, a multiple select/file/relation made single)."""
    out: list[str] = []
    if old.get("name") != new.get("name"):
        out.append(f"Rename the collection {old.get('name')} to {new.get('name')}.")
    if new.get("type") == "view":
        return out
    by_id = {f.get("id"): f for f in old.get("fields") or []}
    kept = {f.get("id") for f in new.get("fields") or [] if f.get("id")}
    for f in new.get("fields") or []:
        before = by_id.get(f.get("id")) if f.get("id") else None
        if before is None:
            continue
        if before.get("name") != f.get("name"):
            out.append(f"Rename the field {before.get('name')} to {f.get('name')}.")
        if (
            "maxSelect" in before
            and int(before.get("maxSelect") or 1) > 1
            and int(f.get("maxSelect") or 1) == 1
        ):
            out.append(f"Make {f.get('name')} single: only the first value of each record stays.")
    out += [
        f"Delete the field {f.get('name')} and all its data."
        for f in old.get("fields") or []
        if f.get("id") not in kept
    ]
    return out

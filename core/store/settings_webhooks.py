"""The `webhooks` setting: a list of hooks, each POSTing the record events of some collections
to a URL (delivered by core/bus/webhooks.py). PocketBase has no such setting; its shape follows
the other settings (camelCase keys, zero values as defaults, PocketBase-shaped errors).

Each hook's `secret` is stored but never sent back, like smtp.password. A PATCH replaces the
whole list, so a hook that comes back without its secret (what a GET gave) keeps the stored
one, matched by `id`.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any
from urllib.parse import urlsplit

from core.store.filter.errors import FilterError
from core.store.filter.parser import parse as parse_filter
from core.store.times import now_str

ACTIONS = ("create", "update", "delete")
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BACKOFF = 1  # seconds before the second attempt; doubles each time
MAX_ATTEMPTS_LIMIT = 50
MAX_BACKOFF = 3600
SECRET_MIN = 16
# the zero value of one item: what a missing key binds to
ITEM: dict[str, Any] = {
    "id": "",
    "name": "",
    "url": "",
    "collections": [],
    "actions": [],
    "filter": "",
    "secret": "",
    "disabled": False,
    "maxAttempts": 0,
    "backoff": 0,
    # set by the server when the hook first appears: its deliveries start with the events
    # committed from then on
    "created": "",
}
_ID = re.compile(r"^[a-z0-9_]{1,32}$")
_COLLECTION = re.compile(r"^[A-Za-z0-9_]+$")
_ID_CHARS = string.ascii_lowercase + string.digits

Errors = dict[str, Any]


def _err(code: str, message: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message} | ({"params": params} if params else {})


def new_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(15))


def carry_over(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`new` with ids given to new hooks, stored secrets kept where none was sent, and the
    creation time kept (or stamped) whatever the client sent."""
    stored = {h["id"]: h for h in old if h.get("id")}
    out = []
    for hook in new:
        hook = dict(hook)
        if not hook.get("id"):
            hook["id"] = new_id()
        before = stored.get(hook["id"])
        if before is not None and not hook.get("secret"):
            hook["secret"] = before.get("secret", "")
        hook["created"] = before.get("created") or now_str() if before is not None else now_str()
        out.append(hook)
    return out


def masked(hooks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in h.items() if k != "secret"} for h in hooks]


def validate(hooks: list[dict[str, Any]]) -> Errors:
    out: Errors = {}
    seen: set[str] = set()
    for i, hook in enumerate(hooks):
        errors = _hook_errors(hook, seen)
        if errors:
            out[str(i)] = dict(sorted(errors.items()))
    return out


def _hook_errors(hook: dict[str, Any], seen: set[str]) -> Errors:
    # the settings' own error items (imported here: that module imports this one)
    from core.store.settings_schema import IN_INVALID, IS_URL, MATCH_INVALID, REQUIRED, min_err

    errors: Errors = {}
    hook_id = hook.get("id", "")
    if not _ID.match(hook_id):
        errors["id"] = MATCH_INVALID
    elif hook_id in seen:
        errors["id"] = _err("validation_duplicated_id", "The id is used by another webhook.")
    seen.add(hook_id)
    url = hook.get("url", "")
    if not url:
        errors["url"] = REQUIRED
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors["url"] = IS_URL
    collections = hook.get("collections") or []
    if not collections:
        errors["collections"] = REQUIRED
    else:
        bad = {str(j): IN_INVALID for j, c in enumerate(collections) if c != "*" and not _COLLECTION.match(c)}
        if bad:
            errors["collections"] = bad
    bad_actions = {str(j): IN_INVALID for j, a in enumerate(hook.get("actions") or []) if a not in ACTIONS}
    if bad_actions:
        errors["actions"] = bad_actions
    flt = hook.get("filter", "")
    if flt:
        try:
            parse_filter(flt)
        except FilterError as exc:
            errors["filter"] = _err("validation_invalid_filter", f"Invalid filter: {exc}")
    secret = hook.get("secret", "")
    if not secret:
        errors["secret"] = REQUIRED
    elif len(secret) < SECRET_MIN:
        errors["secret"] = _err(
            "validation_length_too_short",
            f"The length must be no less than {SECRET_MIN}.",
            {"min": SECRET_MIN},
        )
    for key, limit in (("maxAttempts", MAX_ATTEMPTS_LIMIT), ("backoff", MAX_BACKOFF)):
        value = hook.get(key, 0)
        if value < 0:
            errors[key] = min_err(0)
        elif value > limit:
            errors[key] = _err(
                "validation_max_less_equal_than_required",
                f"Must be no greater than {limit}.",
                {"threshold": limit},
            )
    return errors

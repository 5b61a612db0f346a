"""Application settings: PocketBase's settings object, stored as the `_params` row `settings`.

Like collections, settings travel as a row (so `--ha` replicates them with everything else) and
are cached in memory, swapped whole after each committed change.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import apsw

from core.store.schema import merge_option
from core.store.times import now_str

PARAM_ID = "settings"

# Fields never sent back to a client; the value stays stored.
SECRET_PATHS = (("smtp", "password"), ("s3", "secret"), ("backups", "s3", "secret"))


def default_settings() -> dict[str, Any]:
    s3 = {
        "enabled": False,
        "bucket": "",
        "region": "",
        "endpoint": "",
        "accessKey": "",
        "secret": "",
        "forcePathStyle": False,
    }
    return {
        "superuserIPs": [],
        "smtp": {
            "enabled": False,
            "port": 587,
            "host": "smtp.example.com",
            "username": "",
            "password": "",
            "authMethod": "",
            "tls": False,
            "localName": "",
        },
        "backups": {"cron": "", "cronMaxKeep": 3, "s3": copy.deepcopy(s3)},
        "s3": copy.deepcopy(s3),
        "meta": {
            "accentColor": "#1055c9",
            "appName": "Acme",
            "appURL": "http://localhost:8090",
            "senderName": "Support",
            "senderAddress": "support@example.com",
            "hideControls": False,
        },
        "rateLimits": {
            "rules": [
                {"label": "*:auth", "audience": "", "duration": 3, "maxRequests": 2},
                {"label": "*:create", "audience": "", "duration": 5, "maxRequests": 20},
                {"label": "/api/batch", "audience": "", "duration": 1, "maxRequests": 3},
                {"label": "/api/", "audience": "", "duration": 10, "maxRequests": 300},
            ],
            "excludedIPs": [],
            "enabled": False,
        },
        "trustedProxy": {"headers": [], "useLeftmostIP": False},
        "batch": {"enabled": False, "maxRequests": 50, "timeout": 3, "maxBodySize": 0},
        "logs": {"maxDataSize": 0, "maxDays": 5, "minLevel": 0, "logIP": True, "logAuthId": False},
        # core's own (core/store/settings_webhooks.py): not in PocketBase
        "webhooks": [],
    }


def env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Bootstrap values from the environment (applied at every start, over the stored row)."""
    patch: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    if env.get("CORE_POCKETBASE_APP_URL"):
        meta["appURL"] = env["CORE_POCKETBASE_APP_URL"].rstrip("/")
    if env.get("CORE_POCKETBASE_APP_NAME"):
        meta["appName"] = env["CORE_POCKETBASE_APP_NAME"]
    if env.get("CORE_POCKETBASE_SENDER_NAME"):
        meta["senderName"] = env["CORE_POCKETBASE_SENDER_NAME"]
    if env.get("CORE_POCKETBASE_SENDER_ADDRESS"):
        meta["senderAddress"] = env["CORE_POCKETBASE_SENDER_ADDRESS"]
    if meta:
        patch["meta"] = meta
    smtp: dict[str, Any] = {}
    if env.get("CORE_POCKETBASE_SMTP_HOST"):
        smtp["host"] = env["CORE_POCKETBASE_SMTP_HOST"]
        smtp["enabled"] = True
    if env.get("CORE_POCKETBASE_SMTP_PORT"):
        try:
            smtp["port"] = int(env["CORE_POCKETBASE_SMTP_PORT"])
        except ValueError:
            from core.config import ConfigError

            raise ConfigError(
                f"CORE_POCKETBASE_SMTP_PORT: not a number: {env['CORE_POCKETBASE_SMTP_PORT']!r}"
            )
    for key in ("USERNAME", "PASSWORD"):
        if env.get(f"CORE_POCKETBASE_SMTP_{key}"):
            smtp[key.lower()] = env[f"CORE_POCKETBASE_SMTP_{key}"]
    if env.get("CORE_POCKETBASE_SMTP_TLS"):
        smtp["tls"] = env["CORE_POCKETBASE_SMTP_TLS"].lower() in ("1", "true", "yes", "on")
    if smtp:
        patch["smtp"] = smtp
    return patch


def masked(settings: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(settings)
    for path in SECRET_PATHS:
        node: Any = out
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    hooks = out.pop("webhooks", None)
    if hooks:  # left out while empty: the settings then read exactly as PocketBase's
        from core.store.settings_webhooks import masked as masked_hooks

        out["webhooks"] = masked_hooks(hooks)
    return out


class SettingsCache:
    def __init__(self) -> None:
        self._value: dict[str, Any] = default_settings()

    def get(self) -> dict[str, Any]:
        return self._value

    def load(self, conn: apsw.Connection) -> None:
        row = conn.execute("SELECT value FROM _params WHERE id = ?", (PARAM_ID,)).fetchone()
        value = default_settings()
        if row and row[0]:
            value = merge_option(value, json.loads(row[0]))
        self._value = value


def write_settings(conn: apsw.Connection, value: dict[str, Any]) -> None:
    now = now_str()
    conn.execute(
        "INSERT INTO _params (id, value, created, updated) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET value = excluded.value, updated = excluded.updated",
        (PARAM_ID, json.dumps(value), now, now),
    )

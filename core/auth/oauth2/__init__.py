"""OAuth2 providers (one module each) and which of them an auth collection offers.

A collection configures providers in `oauth2.providers[]` (`name, clientId, clientSecret,
authURL, tokenURL, userInfoURL, displayName, pkce, extra`; empty URLs mean the provider's
defaults). For bootstrap without the admin UI, `CORE_POCKETBASE_{GOOGLE,GITHUB,MICROSOFT,APPLE}_
CLIENT_ID` / `_CLIENT_SECRET` configure that provider for the `users` collection and turn its
OAuth2 on. They apply at runtime only (nothing is written to the collection, so the secret stays
in the environment) and win over a stored entry of the same name, as env settings do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.auth.oauth2.apple import Apple
from core.auth.oauth2.base import AuthUser, Provider, TokenExchangeError, UserFetchError
from core.auth.oauth2.github import GitHub
from core.auth.oauth2.google import Google
from core.auth.oauth2.microsoft import Microsoft
from core.auth.oauth2.oidc import OIDC
from core.store.schema import Collection

__all__ = [
    "AuthUser",
    "Provider",
    "TokenExchangeError",
    "UserFetchError",
    "configs",
    "enabled",
    "listing",
    "provider",
]

PROVIDERS: dict[str, type[Provider]] = {
    "google": Google,
    "github": GitHub,
    "microsoft": Microsoft,
    "apple": Apple,
    "oidc": OIDC,
    "oidc2": OIDC,
    "oidc3": OIDC,
}


def listing() -> list[dict[str, str]]:
    """The providers a collection may configure, as `/api/collections/meta/oauth2-providers`
    lists them (PocketBase's order; `logo` an SVG: a monogram here, not the brands' marks)."""
    ordered = sorted(PROVIDERS.items(), key=lambda item: (item[1].order, item[0]))
    return [
        {"name": name, "displayName": cls.display_name, "logo": _monogram(cls.display_name)}
        for name, cls in ordered
    ]


def _monogram(title: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
        '<rect width="32" height="32" rx="6" fill="#e4e9ec"/><text x="16" y="21" font-size="15" '
        f'font-family="sans-serif" text-anchor="middle" fill="#16161a">{title[:1]}</text></svg>'
    )


ENV_PROVIDERS = ("google", "github", "microsoft", "apple")
ENV_COLLECTION = "users"


def env_configs(env: Mapping[str, str]) -> list[dict[str, Any]]:
    out = []
    for name in ENV_PROVIDERS:
        client_id = env.get(f"CORE_POCKETBASE_{name.upper()}_CLIENT_ID", "")
        if client_id:
            secret = env.get(f"CORE_POCKETBASE_{name.upper()}_CLIENT_SECRET", "")
            out.append({"name": name, "clientId": client_id, "clientSecret": secret})
    return out


def configs(col: Collection, env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The collection's provider entries (known providers only), env ones applied for `users`."""
    stored = (col.auth.get("oauth2") or {}).get("providers") or []
    by_name = {p["name"]: p for p in stored if isinstance(p, dict) and p.get("name") in PROVIDERS}
    if col.name == ENV_COLLECTION:
        for cfg in env_configs(env):
            by_name[cfg["name"]] = {**by_name.get(cfg["name"], {}), **cfg}
    return list(by_name.values())


def enabled(col: Collection, env: Mapping[str, str]) -> bool:
    if (col.auth.get("oauth2") or {}).get("enabled"):
        return True
    return col.name == ENV_COLLECTION and bool(env_configs(env))


def provider(col: Collection, env: Mapping[str, str], name: str) -> Provider | None:
    for cfg in configs(col, env):
        if cfg.get("name") == name:
            return PROVIDERS[name](cfg)
    return None

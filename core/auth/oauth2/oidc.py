"""Generic OpenID Connect (`oidc`, `oidc2`, `oidc3`): userinfo endpoint, else the id_token.

Extra options: `jwksURL` (verify the id_token signature) and `issuers` (accepted `iss` values),
both used only when there is no userinfo URL.
"""

from __future__ import annotations

from typing import Any

from core.auth.oauth2 import idtoken
from core.auth.oauth2.base import AuthUser, Provider, truthy


class OIDC(Provider):
    name = "oidc"
    display_name = "OIDC"
    default_scopes = ("openid", "email", "profile")

    async def fetch_raw_user(self, token: dict[str, Any]) -> dict[str, Any]:
        if self.user_info_url:
            return await super().fetch_raw_user(token)
        issuers = self.extra.get("issuers")
        return await idtoken.claims(
            token,
            self.client_id,
            jwks_url=str(self.extra.get("jwksURL") or ""),
            issuers=[str(i) for i in issuers] if isinstance(issuers, list) else None,
        )

    async def fetch_user(self, token: dict[str, Any]) -> AuthUser:
        raw = await self.fetch_raw_user(token)
        user = self.base_user(token, raw)
        user.id = str(raw.get("sub") or "")
        user.name = str(raw.get("name") or "")
        user.username = str(raw.get("preferred_username") or "")
        user.avatar_url = str(raw.get("picture") or "")
        if truthy(raw.get("email_verified")):
            user.email = str(raw.get("email") or "")
        return user

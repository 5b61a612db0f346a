"""Google (OpenID Connect userinfo endpoint)."""

from __future__ import annotations

from typing import Any

from core.auth.oauth2.base import AuthUser, Provider


class Google(Provider):
    name = "google"
    display_name = "Google"
    order = 2
    default_scopes = (
        "https://www.googleapis.com/auth/userinfo.profile",
        "https://www.googleapis.com/auth/userinfo.email",
    )
    default_auth_url = "https://accounts.google.com/o/oauth2/v2/auth"
    default_token_url = "https://oauth2.googleapis.com/token"
    default_user_info_url = "https://www.googleapis.com/oauth2/v3/userinfo"

    async def fetch_user(self, token: dict[str, Any]) -> AuthUser:
        raw = await self.fetch_raw_user(token)
        user = self.base_user(token, raw)
        user.id = str(raw.get("sub") or "")
        user.name = str(raw.get("name") or "")
        user.avatar_url = str(raw.get("picture") or "")
        # an unverified address proves nothing: it must not link to an existing account
        if raw.get("email_verified") is True:
            user.email = str(raw.get("email") or "")
        return user

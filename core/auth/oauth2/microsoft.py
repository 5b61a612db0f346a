"""Microsoft (Entra ID / Azure AD, "common" tenant; the user comes from Microsoft Graph /me)."""

from __future__ import annotations

from typing import Any

from core.auth.oauth2.base import AuthUser, Provider


class Microsoft(Provider):
    name = "microsoft"
    display_name = "Microsoft"
    order = 3
    default_scopes = ("User.Read",)
    default_auth_url = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    default_token_url = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    default_user_info_url = "https://graph.microsoft.com/v1.0/me"

    async def fetch_user(self, token: dict[str, Any]) -> AuthUser:
        raw = await self.fetch_raw_user(token)
        user = self.base_user(token, raw)
        user.id = str(raw.get("id") or "")
        user.name = str(raw.get("displayName") or "")
        user.email = str(raw.get("mail") or "")
        return user

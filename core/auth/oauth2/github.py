"""GitHub (REST user API; a private email is read from /user/emails when the scope allows)."""

from __future__ import annotations

from typing import Any

from core.auth.oauth2.base import AuthUser, Provider, UserFetchError


class GitHub(Provider):
    name = "github"
    display_name = "GitHub"
    order = 7
    default_scopes = ("read:user", "user:email")
    default_auth_url = "https://github.com/login/oauth/authorize"
    default_token_url = "https://github.com/login/oauth/access_token"
    default_user_info_url = "https://api.github.com/user"
    # GitHub ignores PKCE parameters, so sending them is harmless (PocketBase does too)
    default_pkce = True

    async def fetch_user(self, token: dict[str, Any]) -> AuthUser:
        raw = await self.fetch_raw_user(token)
        user = self.base_user(token, raw)
        raw_id = raw.get("id")
        user.id = str(int(raw_id)) if isinstance(raw_id, (int, float)) else str(raw_id or "")
        user.name = str(raw.get("name") or "")
        user.username = str(raw.get("login") or "")
        user.email = str(raw.get("email") or "")
        user.avatar_url = str(raw.get("avatar_url") or "")
        if not user.email:
            user.email = await self._primary_email(token)
        return user

    async def _primary_email(self, token: dict[str, Any]) -> str:
        status, data = await self.get_json(token, self.user_info_url + "/emails")
        if status in (401, 403, 404):
            return ""  # the token lacks the scope: the email is optional
        if status >= 400 or not isinstance(data, list):
            raise UserFetchError(f"emails request answered {status}")
        for item in data:
            if isinstance(item, dict) and item.get("verified") is True and item.get("primary") is True:
                return str(item.get("email") or "")
        return ""

"""Sign in with Apple: no userinfo endpoint, the user is the signed id_token.

The id_token must be issued by https://appleid.apple.com for our client id, carry `exp`, and be
signed by a key of Apple's JWKS (`extra.jwksURL` overrides the URL, e.g. for a test provider).
Apple posts the redirect (`response_mode=form_post`) and sends the user's name only on the first
authorization, as the `user` JSON of the token response.
"""

from __future__ import annotations

import json
from typing import Any

from core.auth.oauth2 import idtoken
from core.auth.oauth2.base import AuthUser, Provider, UserFetchError, truthy

ISSUER = "https://appleid.apple.com"


class Apple(Provider):
    name = "apple"
    display_name = "Apple"
    order = 1
    default_scopes = ("name", "email")
    default_auth_url = "https://appleid.apple.com/auth/authorize"
    default_token_url = "https://appleid.apple.com/auth/token"
    jwks_url = "https://appleid.apple.com/auth/keys"

    def auth_url_params(self) -> dict[str, str]:
        return {"response_mode": "form_post"}

    async def fetch_raw_user(self, token: dict[str, Any]) -> dict[str, Any]:
        data = await idtoken.claims(
            token,
            self.client_id,
            jwks_url=str(self.extra.get("jwksURL") or self.jwks_url),
            issuers=[ISSUER],
            require_exp=True,
        )
        extra_user = token.get("user")
        if isinstance(extra_user, str) and extra_user:
            try:
                data["user"] = json.loads(extra_user)
            except ValueError as exc:
                raise UserFetchError("malformed user data") from exc
        return data

    async def fetch_user(self, token: dict[str, Any]) -> AuthUser:
        raw = await self.fetch_raw_user(token)
        user = self.base_user(token, raw)
        user.id = str(raw.get("sub") or "")
        user.name = str(raw.get("name") or "")
        if truthy(raw.get("email_verified")):
            user.email = str(raw.get("email") or "")
        if not user.name:
            name = (raw.get("user") or {}).get("name") if isinstance(raw.get("user"), dict) else None
            if isinstance(name, dict):
                user.name = f"{name.get('firstName') or ''} {name.get('lastName') or ''}".strip()
        return user

"""What every OAuth2 provider shares: the authorization URL, the code exchange, the user fetch.

Built on authlib's httpx client: the token request authenticates the client with HTTP Basic
(`client_secret_basic`) and sends `code_verifier` (PKCE) and the exact `redirect_uri` of the
authorization step, as PocketBase does. Each provider module only says where its endpoints are
and how its user JSON maps onto `AuthUser`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from core.store.times import format_dt

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

TIMEOUT_S = 30.0


def _authlib_client() -> tuple[Any, Any]:
    """authlib's httpx client, imported on first use: httpx costs ~60 ms of every start-up."""
    from authlib.deprecate import AuthlibDeprecationWarning

    with warnings.catch_warnings():
        # authlib 1.9 prefers the `httpx2` package and warns when it falls back to httpx (which
        # we ship); the filter goes in after authlib's own "always" filter, so it takes precedence
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
    return AsyncOAuth2Client, OAuthError


class TokenExchangeError(Exception):
    """The provider did not turn the code into a token (bad code, verifier, client or network)."""


class UserFetchError(Exception):
    """The provider did not return usable user data."""


@dataclass
class AuthUser:
    """The provider's user, normalized (PocketBase's auth.AuthUser)."""

    id: str
    name: str = ""
    username: str = ""
    email: str = ""
    avatar_url: str = ""
    access_token: str = ""
    refresh_token: str = ""
    expiry: str = ""
    raw_user: dict[str, Any] = field(default_factory=dict)

    def meta(self, is_new: bool) -> dict[str, Any]:
        """The `meta` of the auth response (`avatarUrl` is PocketBase's legacy spelling, kept)."""
        return {
            "id": self.id,
            "name": self.name,
            "username": self.username,
            "email": self.email,
            "avatarURL": self.avatar_url,
            "avatarUrl": self.avatar_url,
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "expiry": self.expiry,
            "rawUser": self.raw_user,
            "isNew": is_new,
        }


def truthy(value: Any) -> bool:
    """Go's cast.ToBool, for claims like `email_verified` that come as bool, string or number."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true")
    return bool(value) if isinstance(value, (bool, int, float)) else False


class Provider:
    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    # the place in PocketBase's provider list (its providers' Order(); ties sort by name)
    order: ClassVar[int] = 99
    default_scopes: ClassVar[tuple[str, ...]] = ()
    default_auth_url: ClassVar[str] = ""
    default_token_url: ClassVar[str] = ""
    default_user_info_url: ClassVar[str] = ""
    default_pkce: ClassVar[bool] = True

    def __init__(self, config: dict[str, Any]) -> None:
        self.client_id = str(config.get("clientId") or "")
        self.client_secret = str(config.get("clientSecret") or "")
        self.auth_url = str(config.get("authURL") or "") or self.default_auth_url
        self.token_url = str(config.get("tokenURL") or "") or self.default_token_url
        self.user_info_url = str(config.get("userInfoURL") or "") or self.default_user_info_url
        self.title = str(config.get("displayName") or "") or self.display_name
        pkce = config.get("pkce")
        self.pkce = self.default_pkce if pkce is None else bool(pkce)
        extra = config.get("extra")
        self.extra: dict[str, Any] = dict(extra) if isinstance(extra, dict) else {}
        self.scopes = list(self.default_scopes)

    # -- authorization ---------------------------------------------------------------------------
    def auth_url_params(self) -> dict[str, str]:
        """Extra query parameters of the authorization URL (e.g. Apple's response_mode)."""
        return {}

    def build_auth_url(self, state: str, code_challenge: str = "") -> str:
        """The provider's consent URL, params sorted as Go's url.Values encodes them."""
        params = {"client_id": self.client_id, "response_type": "code", "state": state}
        if self.scopes:
            params["scope"] = " ".join(self.scopes)
        if code_challenge:
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        params.update(self.auth_url_params())
        sep = "&" if "?" in self.auth_url else "?"
        return self.auth_url + sep + urlencode(sorted(params.items()))

    # -- exchange ---------------------------------------------------------------------------------
    def client(self, redirect_url: str = "", token: dict[str, Any] | None = None) -> AsyncOAuth2Client:
        AsyncOAuth2Client, _ = _authlib_client()
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method="client_secret_basic",
            redirect_uri=redirect_url or None,
            token=token,
            timeout=TIMEOUT_S,
        )

    async def fetch_token(self, code: str, redirect_url: str, code_verifier: str = "") -> dict[str, Any]:
        extra: dict[str, str] = {}
        if self.pkce:
            extra["code_verifier"] = code_verifier
        _, OAuthError = _authlib_client()
        try:
            async with self.client(redirect_url) as client:
                token = await client.fetch_token(
                    self.token_url, code=code, grant_type="authorization_code", **extra
                )
        except OAuthError as exc:
            raise TokenExchangeError(f"{exc.error}") from exc
        except Exception as exc:  # transport errors, malformed responses: never a 500
            raise TokenExchangeError(type(exc).__name__) from exc
        if not isinstance(token, dict) or not token.get("access_token"):
            raise TokenExchangeError("no access_token in the token response")
        return dict(token)

    async def get_json(self, token: dict[str, Any], url: str) -> tuple[int, Any]:
        """GET `url` with the access token; (status, parsed JSON or None)."""
        try:
            async with self.client(token=token) as client:
                resp = await client.get(url)
        except Exception as exc:
            raise UserFetchError(type(exc).__name__) from exc
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, None

    async def fetch_raw_user(self, token: dict[str, Any]) -> dict[str, Any]:
        status, data = await self.get_json(token, self.user_info_url)
        if status >= 400 or not isinstance(data, dict):
            raise UserFetchError(f"user info request answered {status}")
        return data

    async def fetch_user(self, token: dict[str, Any]) -> AuthUser:
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def base_user(token: dict[str, Any], raw: dict[str, Any]) -> AuthUser:
        expires_at = token.get("expires_at")
        expiry = ""
        if isinstance(expires_at, (int, float)) and expires_at > 0:
            expiry = format_dt(datetime.fromtimestamp(expires_at, UTC))
        return AuthUser(
            id="",
            access_token=str(token.get("access_token") or ""),
            refresh_token=str(token.get("refresh_token") or ""),
            expiry=expiry,
            raw_user=raw,
        )

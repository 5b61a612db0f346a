"""OpenID Connect id_token checks, for providers whose user data is the id_token (Apple, OIDC).

The token comes straight from the provider over the back channel, so its claims are trusted
after the standard checks (audience = our client id, exp/iat with a 5 minute leeway, optional
issuer list); the signature is also verified against the provider's JWKS when its URL is known.
"""

from __future__ import annotations

from typing import Any

import jwt

from core.auth.oauth2.base import TIMEOUT_S, UserFetchError

LEEWAY_S = 300


async def _signing_key(jwks_url: str, kid: str) -> tuple[Any, str]:
    if not kid:
        raise UserFetchError("missing kid header value")
    import httpx  # imported when used: it costs start-up time every run needs

    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
            resp = await client.get(jwks_url)
        keys = resp.json().get("keys") if resp.status_code < 400 else None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise UserFetchError(f"JWKS request failed: {type(exc).__name__}") from exc
    for item in keys or []:
        if isinstance(item, dict) and item.get("kid") == kid:
            try:
                jwk = jwt.PyJWK(item)
            except jwt.PyJWTError as exc:
                raise UserFetchError("unusable JWK") from exc
            return jwk.key, str(item.get("alg") or jwk.algorithm_name)
    raise UserFetchError(f"jwk with kid {kid!r} was not found")


async def claims(
    token: dict[str, Any],
    audience: str,
    *,
    jwks_url: str = "",
    issuers: list[str] | None = None,
    require_exp: bool = False,
) -> dict[str, Any]:
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise UserFetchError("empty id_token")
    try:
        header = jwt.get_unverified_header(id_token)
        key: Any = None
        algorithms: list[str] | None = None
        if jwks_url:
            key, alg = await _signing_key(jwks_url, str(header.get("kid") or ""))
            algorithms = [alg]
        data: dict[str, Any] = jwt.decode(
            id_token,
            key=key,
            algorithms=algorithms,
            audience=audience,
            leeway=LEEWAY_S,
            options={
                "verify_signature": key is not None,
                "verify_aud": True,
                "verify_exp": True,
                "verify_iat": True,
                "verify_nbf": True,
                "require": ["exp"] if require_exp else [],
            },
        )
    except jwt.PyJWTError as exc:
        raise UserFetchError(f"invalid id_token: {type(exc).__name__}") from exc
    if issuers and not any(data.get("iss") == issuer for issuer in issuers):
        raise UserFetchError("id_token issuer is not accepted")
    return data

"""PocketBase's record tokens: HS256 JWTs signed with the record's tokenKey + a collection secret.

Claims follow PocketBase (`id`, `type`, `collectionId`, `exp`, plus `refreshable` on auth tokens
and `email`/`newEmail` on email-bound ones). Because the key includes the record's tokenKey, a
new tokenKey (any password change) revokes every token issued before it, at once.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

TOKEN_TYPES = {
    "auth": "authToken",
    "file": "fileToken",
    "verification": "verificationToken",
    "passwordReset": "passwordResetToken",
    "emailChange": "emailChangeToken",
}


class TokenError(Exception):
    pass


def signing_key(token_key: str, collection_secret: str) -> str:
    return token_key + collection_secret


def issue(
    *,
    record_id: str,
    collection_id: str,
    token_type: str,
    key: str,
    duration: int,
    extra: dict[str, Any] | None = None,
) -> str:
    claims: dict[str, Any] = {
        "collectionId": collection_id,
        "exp": int(time.time()) + int(duration),
        "id": record_id,
        "type": token_type,
    }
    if extra:
        claims.update(extra)
    # claims in key order, as Go marshals a map (PocketBase's tokens look the same)
    return jwt.encode(dict(sorted(claims.items())), key, algorithm="HS256")


def unverified_claims(token: str) -> dict[str, Any]:
    """Claims read without checking the signature: only to find which record and key to use."""
    try:
        claims = jwt.decode(
            token, options={"verify_signature": False, "verify_exp": False}, algorithms=["HS256"]
        )
    except jwt.PyJWTError as e:
        raise TokenError(str(e)) from e
    if (
        not isinstance(claims, dict)
        or not isinstance(claims.get("id"), str)
        or not isinstance(claims.get("collectionId"), str)
    ):
        raise TokenError("missing claims")
    return claims


def verify(token: str, key: str, token_type: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.PyJWTError as e:
        raise TokenError(str(e)) from e
    if claims.get("type") != token_type:
        raise TokenError("wrong token type")
    return claims

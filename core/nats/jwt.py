"""NATS JWTs (nats-io/jwt v2 wire format): claim builders, encoding and verified decoding.

Pure: no files, no network. Claims are plain JSON dicts because that is what goes on the wire;
the builders below are the one place that knows which fields nats-server needs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from core.nats import nkey

Claims = dict[str, Any]

HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
# Go's encoding/json field order for jwt.ClaimsData. Only these feed the jti hash.
_STANDARD = ("aud", "exp", "iat", "iss", "name", "nbf", "sub")
_PAYLOAD_ORDER = ("aud", "exp", "jti", "iat", "iss", "name", "nbf", "sub")
# Which key kind may issue which claim kind (operators sign themselves).
_ISSUER_KIND: dict[str, nkey.Kind] = {"operator": "operator", "account": "operator", "user": "account"}
_SUBJECT_KIND: dict[str, nkey.Kind] = {"operator": "operator", "account": "account", "user": "user"}
UNLIMITED = -1


class JwtError(ValueError):
    """A token that is malformed, wrongly signed, or not valid now."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    # The server accepts both alphabets (nats-py even signs nonces with the standard one).
    padded = part + "=" * (-len(part) % 4)
    return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))


def _go_json(value: Any) -> str:
    # Compact, UTF-8, and <>& escaped like Go's encoder so the jti matches what nsc would compute.
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _jti(claims: Mapping[str, Any]) -> str:
    standard = {k: claims[k] for k in _STANDARD if claims.get(k) not in (None, "", 0)}
    digest = hashlib.new("sha512_256", _go_json(standard).encode()).digest()
    return base64.b32encode(digest).rstrip(b"=").decode()


def payload_json(claims: Mapping[str, Any]) -> str:
    """The payload as nats-io/jwt writes it: standard claims in Go struct order, then the rest."""
    ordered = {k: claims[k] for k in _PAYLOAD_ORDER if claims.get(k) not in (None, "", 0)}
    ordered |= {k: v for k, v in claims.items() if k not in _PAYLOAD_ORDER}
    return _go_json(ordered)


def encode(claims: Mapping[str, Any], issuer_seed: str, *, now: int | None = None) -> str:
    """Sign `claims` with `issuer_seed`; sets iss, iat and jti. The claims need `nats.version: 2`."""
    body: Claims = {k: v for k, v in claims.items() if k != "jti"}
    body["iss"] = nkey.public_key(issuer_seed)
    body["iat"] = int(time.time()) if now is None else now
    body["jti"] = _jti(body)
    signing_input = f"{_b64(_go_json(HEADER).encode())}.{_b64(payload_json(body).encode())}"
    signature = nkey.sign(issuer_seed, signing_input.encode())
    return f"{signing_input}.{_b64(signature)}"


def decode(token: str, *, kind: str | None = None) -> Claims:
    """Parse `token` and verify its signature, version and key kinds (not its times: see `check_times`)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JwtError("a JWT has 3 dot-separated parts")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise JwtError("the JWT is not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("the JWT header and payload must be JSON objects")
    if str(header.get("typ", "")).upper() != "JWT" or header.get("alg") not in ("ed25519-nkey", "ed25519"):
        raise JwtError("not a NATS JWT (typ/alg)")
    nats = claims.get("nats")
    if not isinstance(nats, dict) or nats.get("version") != 2:
        raise JwtError("only version 2 NATS JWTs are supported")
    claim_kind = nats.get("type")
    if claim_kind not in _ISSUER_KIND or (kind is not None and claim_kind != kind):
        raise JwtError(f"expected a {kind or 'NATS'} JWT, got {claim_kind!r}")
    issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
    if not nkey.is_public_key(issuer, _ISSUER_KIND[claim_kind]):
        raise JwtError(f"a {claim_kind} JWT must be issued by an {_ISSUER_KIND[claim_kind]} key")
    if not nkey.is_public_key(subject, _SUBJECT_KIND[claim_kind]):
        raise JwtError(f"the subject of a {claim_kind} JWT must be an {_SUBJECT_KIND[claim_kind]} key")
    if not nkey.verify(issuer, f"{parts[0]}.{parts[1]}".encode(), signature):
        raise JwtError("bad JWT signature")
    return claims


def check_times(claims: Mapping[str, Any], *, now: int | None = None) -> None:
    current = int(time.time()) if now is None else now
    if claims.get("exp") and current > int(claims["exp"]):
        raise JwtError("the JWT has expired")
    if claims.get("nbf") and current < int(claims["nbf"]):
        raise JwtError("the JWT is not valid yet")


def operator_claims(
    name: str, operator_pub: str, *, signing_keys: Iterable[str], system_account: str
) -> Claims:
    return {
        "name": name,
        "sub": operator_pub,
        "nats": {
            "signing_keys": list(signing_keys),
            "system_account": system_account,
            "type": "operator",
            "version": 2,
        },
    }


def account_claims(name: str, account_pub: str, *, jetstream: bool) -> Claims:
    limits: dict[str, Any] = {
        "subs": UNLIMITED,
        "data": UNLIMITED,
        "payload": UNLIMITED,
        "imports": UNLIMITED,
        "exports": UNLIMITED,
        "wildcards": True,
        "conn": UNLIMITED,
        "leaf": UNLIMITED,
    }
    if jetstream:
        # JetStream is off for an account unless one of the storage limits is non-zero.
        limits |= {
            "mem_storage": UNLIMITED,
            "disk_storage": UNLIMITED,
            "streams": UNLIMITED,
            "consumer": UNLIMITED,
        }
    return {
        "name": name,
        "sub": account_pub,
        "nats": {
            "limits": limits,
            "default_permissions": {"pub": {}, "sub": {}},
            "type": "account",
            "version": 2,
        },
    }


def user_claims(
    name: str,
    user_pub: str,
    *,
    pub_allow: Iterable[str] = (),
    sub_allow: Iterable[str] = (),
    deny: Iterable[str] = (),
    expires_at: int | None = None,
) -> Claims:
    """A user of the account that signs it. Empty allow lists mean no restriction, as in nsc;
    `deny` subjects are refused for both publishing and subscribing, whatever is allowed."""
    denied = list(deny)
    nats: dict[str, Any] = {
        "pub": _permission(list(pub_allow), denied),
        "sub": _permission(list(sub_allow), denied),
        # Left out (0) these limits let the connect succeed and then kill the first SUB.
        "subs": UNLIMITED,
        "data": UNLIMITED,
        "payload": UNLIMITED,
        "type": "user",
        "version": 2,
    }
    claims: Claims = {"name": name, "sub": user_pub, "nats": nats}
    if expires_at is not None:
        claims["exp"] = expires_at
    return claims


def _permission(allow: list[str], deny: list[str]) -> dict[str, list[str]]:
    permission = {"allow": allow} if allow else {}
    return permission | ({"deny": deny} if deny else {})

"""NKeys: the Ed25519 keys NATS uses for operators, accounts and users.

nkeys 0.2.1 can sign from a seed but cannot create a seed, and cannot verify from a bare public
key; this module fills both gaps with PyNaCl, which nkeys already depends on.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from typing import Literal

import nacl.exceptions
import nacl.signing
import nkeys

Kind = Literal["operator", "account", "user"]

PREFIX: dict[Kind, int] = {
    "operator": nkeys.PREFIX_BYTE_OPERATOR,
    "account": nkeys.PREFIX_BYTE_ACCOUNT,
    "user": nkeys.PREFIX_BYTE_USER,
}
# The first character of an encoded public key of each kind.
LETTER: dict[Kind, str] = {"operator": "O", "account": "A", "user": "U"}


class NkeyError(ValueError):
    """A seed or public key that is not a valid nkey of the expected kind."""


def new_seed(kind: Kind) -> str:
    """A fresh random seed (`SO…`, `SA…` or `SU…`, 58 characters)."""
    return nkeys.encode_seed(os.urandom(32), PREFIX[kind]).decode()


def derived_seed(parent_seed: str, label: str, kind: Kind) -> str:
    """A seed every holder of `parent_seed` computes alike and nobody else can (HMAC-SHA256).

    Nodes that share an operator agree on such a key without exchanging it, and the derived
    seed reveals nothing about its parent.
    """
    public_key(parent_seed)  # refuses a malformed parent
    digest = hmac.new(parent_seed.encode(), label.encode(), hashlib.sha256).digest()
    return nkeys.encode_seed(digest, PREFIX[kind]).decode()


@functools.lru_cache(maxsize=64)
def _keypair(seed: str) -> nkeys.KeyPair:
    # Decoding a seed (base32 + CRC + key derivation) costs more than the signature itself;
    # issuers sign many users with the same few account seeds.
    try:
        keypair = nkeys.from_seed(bytearray(seed.encode()))
        keypair.public_key  # noqa: B018 - derives and caches the public half, validating the seed
    except (nkeys.NkeysError, binascii.Error, ValueError) as exc:
        raise NkeyError("not a valid nkey seed") from exc
    return keypair


def public_key(seed: str) -> str:
    """The public key (56 characters) that belongs to `seed`."""
    return bytes(_keypair(seed).public_key).decode()


def seed_kind(seed: str) -> Kind:
    """Which kind of key a seed belongs to (an error for server/cluster seeds we never use)."""
    for kind in PREFIX:
        if seed.startswith("S" + LETTER[kind]):
            public_key(seed)  # checks the CRC
            return kind
    raise NkeyError("not an operator, account or user seed")


def sign(seed: str, data: bytes) -> bytes:
    return bytes(_keypair(seed).sign(data))


def _raw_public(pub: str) -> tuple[int, bytes]:
    try:
        raw = base64.b32decode(pub + "=" * (-len(pub) % 8))
    except (binascii.Error, ValueError) as exc:
        raise NkeyError(f"not a valid nkey: {pub[:8]}…") from exc
    if len(raw) != 35 or nkeys.crc16(bytearray(raw[:-2])) != int.from_bytes(raw[-2:], "little"):
        raise NkeyError(f"not a valid nkey: {pub[:8]}…")
    return raw[0], raw[1:33]


def is_public_key(pub: str, kind: Kind) -> bool:
    try:
        prefix, _ = _raw_public(pub)
    except NkeyError:
        return False
    return prefix == PREFIX[kind]


def verify(pub: str, data: bytes, signature: bytes) -> bool:
    """True if `signature` over `data` was made by the key whose public half is `pub`."""
    _, raw = _raw_public(pub)
    try:
        nacl.signing.VerifyKey(raw).verify(data, signature)
    except (nacl.exceptions.BadSignatureError, ValueError):
        return False
    return True

"""Password hashing with argon2id.

PocketBase uses bcrypt; we use argon2id (the design card) and, for records imported from a
PocketBase database, still verify bcrypt hashes so a migrated user can log in.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Parameters chosen so that one hash costs ~10-20 ms on this class of machine: strong enough for
# an online login endpoint without making auth-with-password the slowest request we serve.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(plain: str) -> str:
    return _hasher.hash(plain)


def verify_password(hashed: str, plain: str) -> bool:
    if not hashed:
        return False
    if hashed.startswith("$2"):
        return _verify_bcrypt(hashed, plain)
    try:
        return _hasher.verify(hashed, plain)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _verify_bcrypt(hashed: str, plain: str) -> bool:
    try:
        import bcrypt  # type: ignore[import-not-found]
    except ImportError:
        return False
    try:
        return bool(bcrypt.checkpw(plain.encode(), hashed.encode()))
    except ValueError:
        return False

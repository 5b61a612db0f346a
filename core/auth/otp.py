"""One-time passwords: `_otps` records whose `password` field holds the hashed code.

A code is only ever compared through its hash (argon2 verification is constant-time), never
stored or logged in clear. `sentTo` records the address the code was mailed to, which is what
lets a successful OTP login mark that address verified.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from core.auth.passwords import verify_password
from core.auth.service import AuthService
from core.errors import ApiError
from core.store.record_view import fetch_dicts
from core.store.schema import Collection
from core.store.times import format_dt

OTPS = "_otps"
DIGITS = "0123456789"
# beyond this many live codes for one record, the latest is handed out again instead of a new one
MAX_LIVE_CODES = 10


def generate_code(length: int) -> str:
    return "".join(secrets.choice(DIGITS) for _ in range(max(length, 1)))


def cutoff(duration: int) -> str:
    """The `created` value before which a record with this lifetime has expired."""
    return format_dt(datetime.now(UTC) - timedelta(seconds=duration))


def duration_of(col: Collection) -> int:
    return int((col.auth.get("otp") or {}).get("duration") or 180)


def _otps(auth: AuthService) -> Collection:
    col = auth.store.find(OTPS)
    assert col is not None
    return col


async def find(auth: AuthService, otp_id: str) -> dict[str, Any] | None:
    col = _otps(auth)
    return await auth.store.load_raw(col, otp_id) if otp_id else None


async def latest_live(auth: AuthService, col: Collection, record_id: str) -> tuple[int, str]:
    """(how many unexpired codes the record has, the id of the newest one)."""
    since = cutoff(duration_of(col))

    def q(conn: Any) -> tuple[int, str]:
        rows = fetch_dicts(
            conn,
            "SELECT id FROM `_otps` WHERE collectionRef = ? AND recordRef = ? AND created >= ? "
            "ORDER BY created DESC, rowid DESC",
            (col.id, record_id, since),
        )
        return len(rows), (rows[0]["id"] if rows else "")

    return await auth.store.db.read(q)


async def create(auth: AuthService, col: Collection, record_id: str, code: str, otp_id: str) -> None:
    await auth.store.create_record(
        _otps(auth),
        {"id": otp_id, "collectionRef": col.id, "recordRef": record_id, "password": code},
        auth.system_context(),
    )


async def set_sent_to(auth: AuthService, otp_id: str, address: str) -> None:
    otp = await find(auth, otp_id)
    if otp is None or otp.get("sentTo"):
        return  # already used (deleted) or already sent elsewhere
    await auth.store.update_record(_otps(auth), otp_id, {"sentTo": address}, auth.system_context())


async def delete(auth: AuthService, otp_id: str) -> bool:
    """False when it was already gone (used or cleaned up concurrently)."""
    try:
        await auth.store.delete_record(_otps(auth), otp_id, auth.system_context())
    except ApiError:
        return False
    return True


def is_expired(otp: dict[str, Any], col: Collection) -> bool:
    return str(otp.get("created") or "") < cutoff(duration_of(col))


def matches(otp: dict[str, Any], code: str) -> bool:
    return verify_password(str(otp.get("password") or ""), code)

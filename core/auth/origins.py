"""`_authOrigins`: where a record logged in from, and the "Login from a new location" mail.

An origin is the MD5 of client IP + User-Agent. The first login of a record only records its
origin; a later login from an unknown origin mails the alert (during the request, waiting at
most 15 s, as PocketBase does) and then records it. Each record keeps its 5 latest origins. A
password change forgets them all (see the store's auth-record write path).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
from typing import Any

from core.auth.mailer import MailError
from core.auth.service import AuthService
from core.errors import ApiError
from core.store.record_view import fetch_dicts
from core.store.schema import Collection
from core.store.times import now_str

log = logging.getLogger("core.auth")

AUTH_ORIGINS = "_authOrigins"
MAX_ORIGINS = 5
ALERT_WAIT_S = 15.0
MAX_USER_AGENT = 300


def fingerprint(ip: str, user_agent: str) -> str:
    return hashlib.md5((ip + user_agent[:MAX_USER_AGENT]).encode()).hexdigest()


async def _origins(auth: AuthService, col: Collection, record_id: str) -> list[dict[str, Any]]:
    def q(conn: Any) -> list[dict[str, Any]]:
        return fetch_dicts(
            conn,
            "SELECT * FROM `_authOrigins` WHERE collectionRef = ? AND recordRef = ? "
            "ORDER BY created DESC, rowid DESC",
            (col.id, record_id),
        )

    return await auth.store.db.read(q)


async def record_login(
    auth: AuthService, col: Collection, record: dict[str, Any], ip: str, user_agent: str
) -> None:
    """Remember this login's origin; alert by mail when it is new (and not the first login)."""
    origins_col = auth.store.find(AUTH_ORIGINS)
    assert origins_col is not None
    user_agent = user_agent[:MAX_USER_AGENT]
    fp = fingerprint(ip, user_agent)
    origins = await _origins(auth, col, str(record["id"]))
    current = next((o for o in origins if o.get("fingerprint") == fp), None)
    system = auth.system_context()
    if current is not None:
        await auth.store.update_record(origins_col, current["id"], {}, system)  # touch `updated`
        return
    if origins and record.get("email"):
        info = html.escape(f"{now_str()} - {ip} {user_agent}")
        message = auth.mails.auth_alert(col, record, info)
        try:
            await asyncio.wait_for(auth.mailer.send(message), ALERT_WAIT_S)
        except (MailError, TimeoutError) as exc:
            # PocketBase then leaves the origin unknown, so the next login alerts again
            log.warning("Failed to send login alert to %s: %s", record.get("email"), exc)
            return
    for old in origins[MAX_ORIGINS - 1 :]:
        try:
            await auth.store.delete_record(origins_col, old["id"], system)
        except ApiError:
            pass  # deleted concurrently
    try:
        await auth.store.create_record(
            origins_col, {"collectionRef": col.id, "recordRef": record["id"], "fingerprint": fp}, system
        )
    except ApiError:
        pass  # the same origin was recorded by a concurrent login (unique index)

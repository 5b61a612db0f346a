"""Multi-factor authentication: `_mfas` records remember the first factor of a login.

With `mfa.enabled` (and the optional `mfa.rule` matching the record), a successful first method
(password, otp or oauth2) does not log in: it opens an MFA session and the client gets 401
`{mfaId}`. Repeating the login with a *different* method and that `mfaId` completes it. Sessions
live `mfa.duration` seconds and are single use.
"""

from __future__ import annotations

from typing import Any

from core.auth.otp import cutoff
from core.auth.service import AuthService
from core.errors import ApiError
from core.store.request import RequestContext
from core.store.schema import Collection

MFAS = "_mfas"

METHOD_PASSWORD = "password"
METHOD_OTP = "otp"
METHOD_OAUTH2 = "oauth2"

INVALID_SESSION = "Invalid or expired MFA session."


async def check(
    auth: AuthService,
    col: Collection,
    record: dict[str, Any],
    method: str,
    mfa_id: str,
    req: RequestContext,
) -> str | None:
    """None when the login may complete; else the id of the MFA session just opened.

    Raises 400 for a bad, expired or foreign session, or when the second factor repeats the first.
    """
    cfg = col.auth.get("mfa") or {}
    if not cfg.get("enabled") or not method:
        return None
    rule = str(cfg.get("rule") or "")
    if rule and not await auth.rule_allows(col, str(record["id"]), rule, req.with_context(method)):
        return None
    mfas = auth.store.find(MFAS)
    assert mfas is not None
    system = auth.system_context()
    if not mfa_id:
        created = await auth.store.create_record(
            mfas, {"collectionRef": col.id, "recordRef": record["id"], "method": method}, system
        )
        return str(created.raw["id"])
    session = await auth.store.load_raw(mfas, mfa_id)
    if session is None:
        raise ApiError(400, INVALID_SESSION)
    if str(session.get("created") or "") < cutoff(int(cfg.get("duration") or 600)):
        await _delete(auth, mfa_id)
        raise ApiError(400, INVALID_SESSION)
    if session.get("recordRef") != record["id"] or session.get("collectionRef") != col.id:
        raise ApiError(400, "Invalid MFA session.")
    if session.get("method") == method:
        raise ApiError(400, "A different authentication method is required.")
    # deleting is the gate: of two requests racing with one session, only one deletes it
    if not await _delete(auth, mfa_id):
        raise ApiError(400, INVALID_SESSION)
    return None


async def _delete(auth: AuthService, mfa_id: str) -> bool:
    mfas = auth.store.find(MFAS)
    assert mfas is not None
    try:
        await auth.store.delete_record(mfas, mfa_id, auth.system_context())
    except ApiError:
        return False
    return True

"""Record authentication: resolving a request's token, password login, token issuing.

The AuthService also owns the process-wide auth state the flows share: the mailer, the rate
limiters and the resend cooldowns (in memory, as in PocketBase).
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from core.auth import tokens
from core.auth.mailer import Mailer
from core.auth.mails import RecordMails
from core.auth.passwords import verify_password
from core.auth.ratelimit import Cooldowns, RateLimiters
from core.errors import ApiError
from core.store.cache_sync import AUTH_CHANGED
from core.store.collections import Registry
from core.store.db import Change
from core.store.ddl import quote
from core.store.filter import FilterError, compile_filter
from core.store.record_view import fetch_dicts
from core.store.request import SUPERUSERS, Auth, RequestContext
from core.store.rules import filter_context, record_matches
from core.store.schema import TOKEN_CONFIG_KEYS, Collection
from core.store.store import Store

_RANDOM_ALPHABET = string.ascii_letters + string.digits


def random_string(length: int) -> str:
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(length))


def token_config(col: Collection, token_type: str) -> dict[str, Any]:
    key = tokens.TOKEN_TYPES[token_type]
    assert key in TOKEN_CONFIG_KEYS
    cfg = col.auth.get(key) or {}
    return cfg if isinstance(cfg, dict) else {}


def token_key(col: Collection, raw: dict[str, Any], token_type: str) -> str:
    return tokens.signing_key(
        str(raw.get("tokenKey") or ""), str(token_config(col, token_type).get("secret") or "")
    )


class AuthService:
    def __init__(self, store: Store):
        self.store = store
        self.mailer = Mailer(store.settings.get)
        self.mails = RecordMails(self, self.mailer)
        self.limiters = RateLimiters()
        self.cooldowns = Cooldowns()
        self._records = AuthRecordCache(store.registry)
        store.db.commit_hooks.append(self._records.on_commit)

    def system_context(self, context: str = "default") -> RequestContext:
        """A superuser request context for the flows' own writes (rules do not apply to them)."""
        su = self.store.find(SUPERUSERS)
        assert su is not None
        return RequestContext(auth=Auth(record={"id": ""}, collection=su), context=context)

    async def find_by_email(self, col: Collection, email: str) -> dict[str, Any] | None:
        if not email:
            return None

        def q(conn: Any) -> dict[str, Any] | None:
            rows = fetch_dicts(
                conn, f"SELECT * FROM {quote(col.name)} WHERE `email` = ? COLLATE NOCASE LIMIT 1", (email,)
            )
            return rows[0] if rows else None

        return await self.store.db.read(q)

    async def rule_allows(
        self, col: Collection, record_id: str, rule: str | None, req: RequestContext
    ) -> bool:
        """PocketBase's CanAccessRecord: null = superusers only, "" = everyone, else the filter must match."""
        if req.is_superuser:
            return True
        if rule is None:
            return False
        if rule.strip() == "":
            return True
        try:
            sql = compile_filter(rule, filter_context(col, req, self.store.find))
        except FilterError:
            return False  # a rule that no longer compiles denies, it never opens
        return await self.store.db.read(lambda conn: record_matches(conn, col, record_id, sql))

    async def record_for_token(
        self, col: Collection, token: str, token_type: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(stored record, claims) when `token` is a valid `token_type` token of a record of `col`."""
        found = await self.verify(token, token_type)
        if found is None or found[0].id != col.id:
            return None
        return found[1], found[2]

    def issue(
        self,
        col: Collection,
        raw: dict[str, Any],
        token_type: str = "auth",
        *,
        duration: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        cfg = token_config(col, token_type)
        claims = dict(extra or {})
        if token_type == "auth":
            claims.setdefault("refreshable", True)
        return tokens.issue(
            record_id=str(raw["id"]),
            collection_id=col.id,
            token_type=token_type,
            key=token_key(col, raw, token_type),
            duration=int(duration or cfg.get("duration") or 0) or 1,
            extra=claims,
        )

    async def verify(
        self, token: str, token_type: str = "auth"
    ) -> tuple[Collection, dict[str, Any], dict[str, Any]] | None:
        """The (collection, stored record, claims) a valid token stands for; None otherwise."""
        if not token:
            return None
        hit = self._records.get_token(token, token_type)
        if hit is not None:
            if int(hit[2].get("exp", 0)) > time.time():
                return hit
            return None
        generation = self._records.generation
        try:
            claims = tokens.unverified_claims(token)
        except tokens.TokenError:
            return None
        col = self.store.find(claims["collectionId"])
        if col is None or not col.is_auth or col.id != claims["collectionId"]:
            return None
        raw = await self._load(col, claims["id"])
        if raw is None:
            return None
        try:
            verified = tokens.verify(token, token_key(col, raw, token_type), token_type)
        except tokens.TokenError:
            return None
        result = (col, raw, verified)
        self._records.put_token(token, token_type, result, generation)
        return result

    async def _load(self, col: Collection, record_id: str) -> dict[str, Any] | None:
        cached = self._records.get(col.id, record_id)
        if cached is not None:
            return cached
        generation = self._records.generation
        raw = await self.store.load_raw(col, record_id)
        if raw is not None:
            self._records.put(col.id, record_id, raw, generation)
        return raw

    async def resolve(self, header: str | None) -> tuple[Auth, dict[str, Any]] | None:
        if not header:
            return None
        token = header[7:] if header[:7].lower() == "bearer " else header
        found = await self.verify(token.strip(), "auth")
        if found is None:
            return None
        col, raw, claims = found
        return Auth(record=raw, collection=col), claims

    async def find_by_identity(
        self, col: Collection, identity: str, identity_field: str | None = None
    ) -> dict[str, Any] | None:
        fields = list((col.auth.get("passwordAuth") or {}).get("identityFields") or ["email"])
        if identity_field:
            if identity_field not in fields:
                raise ApiError(
                    400,
                    "Failed to authenticate.",
                    {"identityField": {"code": "validation_in_invalid", "message": "Must be a valid value."}},
                )
            fields = [identity_field]

        def q(conn: Any) -> dict[str, Any] | None:
            for name in fields:
                f = col.get_field(name)
                if f is None:
                    continue
                collate = " COLLATE NOCASE" if f.type == "email" else ""
                rows = fetch_dicts(
                    conn,
                    f"SELECT * FROM {quote(col.name)} WHERE {quote(name)} = ?{collate} LIMIT 1",
                    (identity,),
                )
                if rows:
                    return rows[0]
            return None

        return await self.store.db.read(q)

    async def auth_with_password(
        self, col: Collection, identity: str, password: str, identity_field: str | None
    ) -> dict[str, Any]:
        if not (col.auth.get("passwordAuth") or {}).get("enabled"):
            raise ApiError(403, "The collection is not configured to allow password authentication.")
        raw = await self.find_by_identity(col, identity, identity_field)
        # always run one hash check so that a missing account costs as long as a wrong password
        hashed = str(raw.get("password") or "") if raw else DUMMY_HASH
        ok = verify_password(hashed, password)
        if raw is None or not ok:
            raise ApiError(400, "Failed to authenticate.")
        return raw


DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Hv5FtB4mFZq7Bl9G0k6w3bX5oYhN0S0cYt1rVh4B6Ks"
)


class AuthRecordCache:
    """Auth records by (collection id, record id), so a token check needs no database read.

    Any committed change to an auth collection's table clears the cache before that write is
    acknowledged (a commit hook), and a load that raced a change is not stored (the generation
    moved), so a rotated tokenKey revokes old tokens at once.
    """

    MAX = 10_000

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        # verified tokens: a signature check costs more than the rest of a small request
        self._tokens: dict[tuple[str, str], tuple[Collection, dict[str, Any], dict[str, Any]]] = {}
        self.generation = 0

    def get_token(
        self, token: str, token_type: str
    ) -> tuple[Collection, dict[str, Any], dict[str, Any]] | None:
        return self._tokens.get((token, token_type))

    def put_token(
        self,
        token: str,
        token_type: str,
        value: tuple[Collection, dict[str, Any], dict[str, Any]],
        generation: int,
    ) -> None:
        if generation != self.generation:
            return
        if len(self._tokens) >= self.MAX:
            self._tokens.clear()
        self._tokens[(token, token_type)] = value

    def get(self, collection_id: str, record_id: str) -> dict[str, Any] | None:
        return self._items.get((collection_id, record_id))

    def put(self, collection_id: str, record_id: str, raw: dict[str, Any], generation: int) -> None:
        if generation != self.generation:
            return
        if len(self._items) >= self.MAX:
            self._items.clear()
        self._items[(collection_id, record_id)] = raw

    def on_commit(self, change: Change) -> None:
        # `auth_changed` is set by the store's CacheSync, which runs first and reads the changeset
        if change.tags.get("collections_changed") or change.tags.get(AUTH_CHANGED):
            self.generation += 1
            self._items.clear()
            self._tokens.clear()

"""auth-with-oauth2: exchange the provider's code, then log in, link or sign up the record.

Which record: the one already linked to this provider identity (`_externalAuths`), else the
caller's own record when the request is authenticated in this collection (linking a new
identity), else the record with the provider's (verified) email, else a new one built from
`createData`, the provider email and the collection's `oauth2.mappedFields` (through the
createRule, with `@request.context = "oauth2"`). The record writes and the new link commit in
one transaction.

An existing unverified record gets a random password (unless the caller is signed in as it) and
loses every provider link made before this one: someone may have registered the address first,
by password or through their own provider account, to take the account over later (account
pre-hijacking).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from litestar import Request, Response, post

from core.api._helpers import read_json_object
from core.api.common import core_app, current_auth, request_context
from core.api.record_auth import LOAD_FAILED, auth_collection, complete_auth
from core.app import App
from core.auth import mfa, oauth2
from core.auth.oauth2 import AuthUser, TokenExchangeError, UserFetchError
from core.auth.service import random_string
from core.errors import ApiError, validation_error
from core.store.db import WriteContext
from core.store.fields.file import UploadedFile
from core.store.record_view import fetch_dicts
from core.store.record_write import RecordWriter
from core.store.request import SUPERUSERS, RequestContext
from core.store.schema import Collection

log = logging.getLogger("core.auth")

EXTERNAL_AUTHS = "_externalAuths"
AVATAR_TIMEOUT_S = 15.0
AVATAR_MAX_BYTES = 10 << 20


@post("/api/collections/{collection:str}/auth-with-oauth2", status_code=200)
async def auth_with_oauth2(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = core_app(request)
    col = auth_collection(app, request.path_params["collection"])
    env = app.settings.env
    if not oauth2.enabled(col, env):
        raise ApiError(403, "The collection is not configured to allow OAuth2 authentication.")
    auth = await current_auth(request)
    body, provider, redirect_url = await _read_form(request, col, env)
    name = body["provider"]
    create_data = body.get("createData") or {}

    try:
        token = await provider.fetch_token(body["code"], redirect_url, body["codeVerifier"])
    except TokenExchangeError as exc:
        log.info("OAuth2 code exchange with %s failed: %s", name, exc)
        raise ApiError(400, "Failed to fetch OAuth2 token.") from None
    try:
        user = await provider.fetch_user(token)
    except UserFetchError as exc:
        log.info("OAuth2 user fetch from %s failed: %s", name, exc)
        raise ApiError(400, "Failed to fetch OAuth2 user.") from None
    except Exception:
        # provider data of an unexpected shape: still the provider's failure, never a 500
        log.exception("OAuth2 user data from %s could not be read", name)
        raise ApiError(400, "Failed to fetch OAuth2 user.") from None

    link = await _find_link(app, col, name, user.id) if user.id else None
    record: dict[str, Any] | None = None
    if link is not None:
        record = await app.store.load_raw(col, str(link["recordRef"]))
        if record is None:
            raise ApiError(404)
    elif auth is not None and auth.collection.id == col.id:
        record = auth.record
    elif user.email:
        record = await app.auth.find_by_email(col, user.email)

    is_new = record is None
    if is_new:
        if col.name == SUPERUSERS:
            raise ApiError(400, "Failed to authenticate.")  # superusers never sign up through OAuth2
        payload = await _signup_payload(col, user, dict(create_data))
        req = await request_context(request, payload)
        req = req.with_context("oauth2")
    else:
        payload, req = {}, app.auth.system_context()
    logged_in = (
        auth is not None and record is not None and auth.collection.id == col.id and auth.id == record["id"]
    )
    raw = await app.store.db.write(
        lambda ctx: _submit(app, ctx, col, record, payload, req, user, name, link is None, logged_in)
    )
    return await complete_auth(app, request, col, raw, mfa.METHOD_OAUTH2, body, meta=user.meta(is_new))


async def _read_form(
    request: Request[Any, Any, Any], col: Collection, env: Mapping[str, str]
) -> tuple[dict[str, Any], oauth2.Provider, str]:
    """The body, the provider it names and the redirect URL; 400 when any is missing or unknown."""
    body = await read_json_object(request, LOAD_FAILED)
    for key in ("provider", "code", "codeVerifier", "redirectURL", "redirectUrl"):
        if body.get(key) is None:
            body[key] = ""
        elif not isinstance(body[key], str):
            raise ApiError(400, LOAD_FAILED)
    if body.get("createData") is not None and not isinstance(body["createData"], dict):
        raise ApiError(400, LOAD_FAILED)
    redirect_url = body["redirectURL"] or body["redirectUrl"]  # the latter is the pre-0.23 name
    name = body["provider"]
    provider = oauth2.provider(col, env, name) if name and len(name) <= 100 else None
    errors: dict[str, Any] = {}
    if not name:
        errors["provider"] = validation_error("validation_required", "Cannot be blank.")
    elif provider is None:
        errors["provider"] = validation_error(
            "validation_invalid_provider",
            f"Provider with name {name} is missing or is not enabled.",
            {"name": name},
        )
    for key, value in (("code", body["code"]), ("redirectURL", redirect_url)):
        if not value:
            errors[key] = validation_error("validation_required", "Cannot be blank.")
    if errors or provider is None:
        # PocketBase words these "loading" errors, not "validating" ones
        raise ApiError(400, LOAD_FAILED, errors)
    return body, provider, redirect_url


def _submit(
    app: App,
    ctx: WriteContext,
    col: Collection,
    record: dict[str, Any] | None,
    payload: dict[str, Any],
    req: RequestContext,
    user: AuthUser,
    provider: str,
    needs_link: bool,
    logged_in: bool,
) -> dict[str, Any]:
    """The record writes and the new `_externalAuths` link, in one transaction."""
    col = app.store.current(col)  # as the write group finds it (under --ha, after catching up)
    system = RecordWriter(ctx, app.store.registry, app.store.storage, app.auth.system_context())
    if record is None:
        created = RecordWriter(ctx, app.store.registry, app.store.storage, req).create(col, payload).raw
        if created.get("email") == user.email and not created.get("verified"):
            created = system.update(col, created["id"], {"verified": True}).raw
        raw = created
    else:
        patch: dict[str, Any] = {}
        email = str(record.get("email") or "")
        if not record.get("verified"):
            if not logged_in:
                secret = random_string(30)
                patch.update(password=secret, passwordConfirm=secret)
            # whoever linked a provider to the unproven account may not be its owner: an
            # unverified record keeps at most this one link (PocketBase's oauth2Submit)
            system.delete_auth_refs(col.id, record["id"], (EXTERNAL_AUTHS,))
            needs_link = True
        if not email and user.email:
            email = patch["email"] = user.email
        if not record.get("verified") and (not email or email == user.email):
            patch["verified"] = True
        raw = system.update(col, record["id"], patch).raw if patch else record
    if needs_link:
        links = app.store.find(EXTERNAL_AUTHS)
        assert links is not None
        try:
            system.create(
                links,
                {
                    "collectionRef": col.id,
                    "recordRef": raw["id"],
                    "provider": provider,
                    "providerId": user.id,
                },
            )
        except ApiError:
            # e.g. the record is already linked to another identity of this provider
            raise ApiError(400, "Failed to authenticate.") from None
    return raw


async def _find_link(app: App, col: Collection, provider: str, provider_id: str) -> dict[str, Any] | None:
    def q(conn: Any) -> dict[str, Any] | None:
        rows = fetch_dicts(
            conn,
            "SELECT * FROM `_externalAuths` WHERE collectionRef = ? AND provider = ? AND providerId = ? LIMIT 1",
            (col.id, provider, provider_id),
        )
        return rows[0] if rows else None

    return await app.store.db.read(q)


async def _signup_payload(col: Collection, user: AuthUser, payload: dict[str, Any]) -> dict[str, Any]:
    """createData, completed with the provider's email and the mapped fields it does not set."""
    if not isinstance(payload.get("email"), str) or not payload.get("email"):
        payload["email"] = user.email
    mapped = (col.auth.get("oauth2") or {}).get("mappedFields") or {}
    for key, value in (("id", user.id), ("name", user.name)):
        target = str(mapped.get(key) or "")
        if target and target not in payload:
            payload[target] = value
    username_field = str(mapped.get("username") or "")
    if username_field and username_field not in payload and user.username:
        payload[username_field] = user.username
    avatar_field = str(mapped.get("avatarURL") or "")
    if avatar_field and avatar_field not in payload and user.avatar_url:
        f = col.get_field(avatar_field)
        if f is not None and f.type == "file":
            avatar = await _download(user.avatar_url)
            if avatar is not None:
                payload[avatar_field] = avatar
        else:
            payload[avatar_field] = user.avatar_url
    if "password" not in payload:
        # OAuth2 accounts get a password nobody knows (a reset can set a real one later)
        secret = random_string(30)
        payload["password"] = payload["passwordConfirm"] = secret
    return payload


async def _download(url: str) -> UploadedFile | None:
    """The avatar file behind `url`; None (logged) when it cannot be fetched."""
    import httpx  # imported when used: it costs start-up time every run needs

    try:
        async with (
            httpx.AsyncClient(timeout=AVATAR_TIMEOUT_S, follow_redirects=True) as client,
            client.stream("GET", url) as resp,
        ):
            if resp.status_code >= 400:
                raise ValueError(f"status {resp.status_code}")
            data = b""
            async for chunk in resp.aiter_bytes():
                data += chunk
                if len(data) > AVATAR_MAX_BYTES:
                    raise ValueError("too large")
            content_type = resp.headers.get("content-type", "").split(";")[0].strip()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("Failed to retrieve the OAuth2 avatar: %s", exc)
        return None
    filename = urlparse(url).path.rsplit("/", 1)[-1] or "avatar"
    return UploadedFile(filename=filename, content_type=content_type, data=data)


routes = [auth_with_oauth2]

"""/api/ds/auth-methods, /oauth-start, /auth-with-oauth2: the OAuth2 login of the pages.

The page flow, without popups or realtime: a provider button opens /api/ds/oauth-start, which
takes a fresh `state` and PKCE verifier from auth-methods, keeps them (with the collection and
where to go afterwards) in a short-lived HttpOnly cookie scoped to /api/ds/auth-with-oauth2, and
sends the browser to the provider with `redirect_uri = <origin>/ds/callback`. The provider sends
it back to /ds/callback, whose page posts `code` and `state` here; the state must match the
cookie's, and the exchange itself is PocketBase's auth-with-oauth2.

Called without the Datastar header, auth-methods and auth-with-oauth2 are PocketBase's own
(JSON in, JSON out) and oauth-start answers with the 302 to the provider.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post

from core.api import record_auth, record_auth_oauth2
from core.auth import mfa
from core.errors import ApiError, validation_error
from core.ui import bridge, render, session, signin
from core.ui.context import Ds, run
from core.ui.signin import Form
from core.ui.templates import url

CALLBACK = Form(
    "partials/callback.html",
    (),
    {
        400: "The provider did not confirm the sign-in. Please try again.",
        403: "Signing in with this provider is not enabled here.",
        "provider": "Signing in with this provider is not enabled here.",
    },
)
STALE = "This sign-in was started in another window or took too long. Please start again."


# -- auth-methods ----------------------------------------------------------------------------
@get("/api/ds/auth-methods")
async def auth_methods(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _auth_methods)


async def _auth_methods(ds: Ds) -> Response[Any]:
    ds.check_limit("GET", "auth-methods")
    if not ds.datastar:
        result = await ds.call(record_auth.auth_methods)
        return result.response
    m = ds.methods()
    # the names only: state and verifier belong to oauth-start, never to the page's signals
    providers = [{"name": p.name, "displayName": p.title} for p in m.providers]
    methods = {"password": m.password, "otp": m.otp, "mfa": m.mfa, "oauth2": providers}
    return render.respond(render.signals({"authMethods": methods}))


# -- oauth-start -----------------------------------------------------------------------------
@get("/api/ds/oauth-start")
async def oauth_start(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _oauth_start)


async def _oauth_start(ds: Ds) -> Response[Any]:
    col = ds.check_limit("GET", "auth-methods")
    q = ds.request.query_params
    name = q.get("provider", "")
    after = session.safe_redirect(q.get("redirect", ""), url("/ds", col.name))
    result = await bridge.call(
        record_auth.auth_methods,
        ds.request,
        path_params={"collection": col.name},
        token=ds.token,
        body={},
        method="GET",
    )
    if not result.ok:
        raise ApiError(result.status, result.message)
    providers = ((result.data or {}).get("oauth2") or {}).get("providers") or []
    info = next((p for p in providers if p.get("name") == name), None)
    if info is None:
        raise ApiError(
            400,
            "Failed to start the OAuth2 sign-in.",
            {"provider": validation_error("validation_invalid_provider", "Missing or disabled provider.")},
        )
    callback = session.public_origin(ds.app, ds.request) + "/ds/callback"
    flow = {
        "c": col.name,
        "p": name,
        "s": info["state"],
        "v": info["codeVerifier"],
        "r": callback,
        "n": after,
    }
    ds.add_cookie_op(lambda r: session.set_oauth2(ds.app, ds.request, r, _encode(flow)))
    location = str(info["authURL"]) + quote(callback, safe="")
    if ds.datastar:
        return render.respond(render.redirect(location))
    return Response(b"", status_code=302, headers={"Location": location})


def _encode(flow: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(flow, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(raw: str) -> dict[str, str] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in "cpsvrn"):
        return None
    return data


# -- auth-with-oauth2 ------------------------------------------------------------------------
@post("/api/ds/auth-with-oauth2", status_code=200)
async def auth_with_oauth2(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _auth_with_oauth2)


async def _auth_with_oauth2(ds: Ds) -> Response[Any]:
    if not ds.datastar:
        ds.check_limit("POST", "auth-with-oauth2")
        result = await ds.call(record_auth_oauth2.auth_with_oauth2)
        return await signin.answer(
            ds, result, form=CALLBACK, form_id="callback", method=mfa.METHOD_OAUTH2, values={}
        )
    f = await ds.fields("code", "state", "error")
    flow = _decode(ds.request.cookies.get(session.OAUTH2_COOKIE, ""))
    # one attempt per start: the cookie goes whatever happens next
    ds.add_cookie_op(lambda r: session.set_oauth2(ds.app, ds.request, r, ""))
    if flow is None or not f["state"] or f["state"] != flow["s"]:
        return render.respond(render.merge(CALLBACK.template, **ds.context(error=STALE)))
    ds.collection = flow["c"]
    if f["error"] or not f["code"]:
        message = "The provider did not confirm the sign-in." + (f" ({f['error']})" if f["error"] else "")
        return render.respond(render.merge(CALLBACK.template, **ds.context(error=message)))
    ds.check_limit("POST", "auth-with-oauth2")
    body = {"provider": flow["p"], "code": f["code"], "codeVerifier": flow["v"], "redirectURL": flow["r"]}
    result = await ds.call(record_auth_oauth2.auth_with_oauth2, body)
    return await signin.answer(
        ds,
        result,
        form=CALLBACK,
        form_id="callback",
        method=mfa.METHOD_OAUTH2,
        values={},
        redirect=flow["n"],
        extra={"done": True},
    )


routes = [auth_methods, oauth_start, auth_with_oauth2]

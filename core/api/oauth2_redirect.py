"""GET|POST /api/oauth2-redirect: the OAuth2 provider's callback for the SDK's popup flow.

The SDK subscribes a realtime client to `@oauth2` and uses that client's id as the OAuth2
`state`. The provider redirects the popup here; we forward `{state, code, error?}` to that
client, whose page then calls auth-with-oauth2 itself, and send the popup to the admin UI's
success or failure page. GET answers 307 and POST (Apple's form_post) 303, like PocketBase.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, route

from core.api.common import core_app, read_body
from core.errors import ApiError

log = logging.getLogger("core.auth")

TOPIC = "@oauth2"
SUCCESS = "../_/#/auth/oauth2-redirect-success"
FAILURE = "../_/#/auth/oauth2-redirect-failure"


def _redirect(location: str, status: int) -> Response[bytes]:
    return Response(content=b"", status_code=status, headers={"Location": location})


@route("/api/oauth2-redirect", http_method=["GET", "POST"])
async def oauth2_redirect(request: Request[Any, Any, Any]) -> Response[bytes]:
    status = 307 if request.method == "GET" else 303
    if request.method == "POST":
        try:
            data: dict[str, Any] = await read_body(request)
        except ApiError:
            return _redirect(FAILURE, status)
    else:
        data = dict(request.query_params)
    state, code, error = (str(data.get(k) or "") for k in ("state", "code", "error"))
    if not state:
        return _redirect(FAILURE, status)
    broker = core_app(request).services.get("realtime")
    message: dict[str, str] = {"state": state, "code": code}
    if error:
        message["error"] = error
    delivered = False
    if broker is not None:
        try:
            delivered = await broker.send_to_client(state, TOPIC, message)
        except Exception:
            log.exception("forwarding the OAuth2 redirect failed")
    if not delivered or error or not code:
        return _redirect(FAILURE, status)
    return _redirect(SUCCESS, status)


routes = [oauth2_redirect]

"""The superuserIPs middleware: every request authenticated as a superuser from an address outside
`settings.superuserIPs` (when the list is not empty) gets 403, as PocketBase's
superuserIPsWhitelist answers, whatever the route (an unknown one included, so it runs around
Litestar's router). The client address honours `settings.trustedProxy`. Not a route module.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request
from litestar.types import ASGIApp, Receive, Scope, Send

from core.api._superuser_ips import superuser_ip_allowed
from core.api.common import current_auth
from core.api.record_auth import client_ip
from core.app import App
from core.errors import ApiError

_FORBIDDEN = json.dumps(ApiError(403).to_json()).encode()


class SuperuserIPs:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            core: App = scope["app"].state.core
            if core.store.settings.get().get("superuserIPs"):  # empty: nothing to check, no auth read
                request: Request[Any, Any, Any] = Request(scope, receive)
                auth = await current_auth(request)
                if (
                    auth is not None
                    and auth.is_superuser
                    and not superuser_ip_allowed(core, client_ip(core, request))
                ):
                    await _forbidden(send)
                    return
        await self.app(scope, receive, send)


async def _forbidden(send: Send) -> None:
    length = str(len(_FORBIDDEN)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", length)]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": _FORBIDDEN, "more_body": False})

"""GET /_/: the dashboard's front door.

PocketBase's mail links and OAuth2 popups land here with everything in the URL fragment
(`#/auth/confirm-verification/{token}`, `#/auth/oauth2-redirect-success`, `#/pbinstall/{token}`),
which the server never sees: every answer of this route carries the scripts that read it
(mail-link.js, admin.js). Without a session the sign-in (or first-run) screen is rendered in
place, not redirected, so nothing depends on a fragment surviving a redirect.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from core.admin import install
from core.admin.screen import html, render_page
from core.admin.session import NotSignedIn, require_superuser
from core.admin.signin import login_context
from core.api.common import core_app
from core.ui.templates import render

# mail links carry tokens: never sent on to another site in a Referer
HEADERS = {"Referrer-Policy": "no-referrer"}


@get("/_/")
async def home_page(request: Request[Any, Any, Any]) -> Response[Any]:
    app = core_app(request)
    try:
        admin = await require_superuser(request)
    except NotSignedIn:
        if install.needed(app):
            return install.install_screen(request)
        return html(
            render("admin/login.html", **login_context(app, title="Sign in", next="/_/")), headers=HEADERS
        )
    response = render_page(admin, "admin/home.html", title="Dashboard", active="")
    response.headers.update(HEADERS)
    return response


routes = [home_page]

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
from core.admin.session import Admin, NotSignedIn, require_superuser
from core.admin.signin import login_context
from core.api import backups as backups_api
from core.api import collections, records
from core.api.common import core_app
from core.superusers import SUPERUSERS
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
    response = render_page(admin, "admin/home.html", title="Dashboard", active="", facts=await _facts(admin))
    response.headers.update(HEADERS)
    return response


async def _facts(admin: Admin) -> list[tuple[str, str, str]]:
    """(label, value, link) of the overview, each counted by the API list it links to."""
    one = {"page": "1", "perPage": "1", "skipTotal": "0"}
    cols = await admin.call(collections.list_collections, query=one, method="GET")
    supers = await admin.call(
        records.list_records, path_params={"collection": SUPERUSERS}, query=one, method="GET"
    )
    backups = await admin.call(backups_api.backups_list, method="GET")
    meta = admin.app.store.settings.get().get("meta") or {}
    return [
        ("Application URL", str(meta.get("appURL") or ""), "/_/settings/application"),
        ("Collections", str(cols.data.get("totalItems", "?") if cols.ok else "?"), "/_/collections"),
        ("Superusers", str(supers.data.get("totalItems", "?") if supers.ok else "?"), "/_/superusers"),
        ("Backups", str(len(backups.data) if backups.ok else "?"), "/_/backups"),
    ]


routes = [home_page]

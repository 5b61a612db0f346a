"""The admin dashboard at /_/ for superusers: Jinja pages + Datastar endpoints, no build step.

How to add a screen (say "Widgets", the nav key `widgets`):

1. A module `core/admin/widgets.py` with its routes in a `routes` list, then add it to `routes`
   below. Pages are `GET /_/widgets...`; the endpoints the page calls are `/_/api/widgets...`
   (under `/_/`, so PocketBase's `/api/` namespace stays PocketBase's and the session cookie,
   scoped to `/_/`, reaches them). Write endpoints are `@post(..., status_code=200)`.
2. Guard: wrap the handler body in `screen.page(request, build)` (GET pages; a guest is sent to
   /_/login and back) or `screen.endpoint(request, act)` (Datastar endpoints; CSRF checked,
   errors become a notice). Both hand you an `Admin` (session.py): `admin.auth` is the
   superuser, and `await admin.call(handler, path_params=..., query=..., body=...)` runs a
   REST API handler of core/api/ in-process with the superuser's token. That is the ONLY way a
   screen reads or writes data: the API's validation, rules, hooks, HA replication and request
   logging then apply unchanged (never touch the store directly).
3. Templates in assets/templates/admin/: a page `{% extends "admin/base.html" %}` filling
   `{% block main %}`, rendered with `screen.render_page(admin, "admin/widgets.html",
   title=..., active="widgets", ...)`; partials in admin/partials/ have ONE top-level element
   with an id and are sent with `screen.fragment(admin, "admin/partials/x.html", ...)` inside
   `core.ui.render.respond(...)` (Datastar morphs by id). `core.ui.render.notice(text,
   error=...)` updates the page's #notice.
4. Forms: `{% import "admin/_form.html" as f with context %}`; `f.form(id, act("post", "/_/api/..."))`
   posts the form as form data; inputs are named by PocketBase's JSON path (`smtp.host`) and
   `forms.nested()` rebuilds the body. On a failed call, `forms.errors_of(result)` gives
   `errors.fields` ({"smtp.host": message}) for `f.field(..., errors=errors.fields)` and
   `errors.message` for `f.error(form_id, message)`. PocketBase's messages are shown as they
   are. A form with a file input posts multipart: hand it on untouched with
   `admin.call(handler, forward_body=True)` (backups.py's upload does). An unreadable body is
   PocketBase's 400 from `forms.read_form`, never an empty form. A protected file (a preview, a
   download) wants `?token=`: `await admin.file_token()` mints one server-side.
5. Tables: `table.table_query(request, sort="-created")` reads page/perPage/filter/sort from the
   URL; pass it as `query=` to the API list handler and wrap the answer with
   `table.Paging.of(result.data, query)`; `{% import "admin/_table.html" as t with context %}` gives
   `t.pager(paging, "/_/widgets", "/_/api/widgets/table")` and `t.sort_header(paging,
   "/_/widgets", "created", "Created", "/_/api/widgets/table")` (the second URL answers with the
   table's partial, so paging and sorting morph in place). A search box: `table.search_filter(
   text, fields)` turns a plain term into PocketBase's `field?~'term'||...` and keeps a filter
   as typed; `table.all_of(...)` joins filters. A bad filter is the API's 400: show
   `result.message` under the box (see logs.py).
   Other patterns to copy: a confirmation (`data-on-click="confirm('...') && @post(...)"`,
   superusers_table.html); a long action with progress (`screen.streamed`, backups.py);
   `hide_controls` (settings.meta.hideControls) is in every template's context.
6. Styles go in assets/static/admin.css (1280x800 and phone width; no framework), scripts (rarely
   needed) in assets/static/admin.js. Both are served from /ds/static/ with a content hash.
7. Tests in tests/admin/: `admin_page` (tests/admin/conftest.py) is a signed-in Chromium page on a
   real `core serve`; drive the screen, call `shot(page, "widgets")` (it also fails when the
   screen is wider than a phone), then confirm the same fact through the JSON API with
   `admin_server.api` (an httpx client with a superuser token). tests/admin/test_guard.py walks
   `routes` and checks every non-public route is guarded: give new path parameters a sample
   value there. In-process tests (`client` + `test_session.sign_in`) come before the browser
   tests in a module.

Modules: `session` (cookie, CSRF, `require_superuser`, `Admin`), `screen` (page/endpoint
runners, layout and nav, `streamed`), `forms`, `table`, `chart` (the Logs SVG), `signin`
(password, OTP, MFA, sign-out), `install` (first-run screen), `home` (/_/ itself, which also
forwards PocketBase's mail links); the screens `superusers`, `settings` (+ `settings_spec`),
`backups`, `crons`, `logs`, `cluster`.
"""

from __future__ import annotations

from typing import Any

from core.admin import (
    backups,
    cluster,
    collections,
    collections_sync,
    crons,
    home,
    install,
    logs,
    records,
    records_form,
    records_live,
    settings,
    signin,
    superusers,
)
from core.app import App

routes: list[Any] = [
    *home.routes,
    *signin.routes,
    *install.routes,
    *superusers.routes,
    *settings.routes,
    *backups.routes,
    *crons.routes,
    *collections_sync.routes,
    *collections.routes,
    *records.routes,
    *records_form.routes,
    *logs.routes,
    *cluster.routes,
]


async def on_startup(app: App) -> None:
    await install.on_startup(app)


async def on_shutdown(app: App) -> None:
    await records_live.on_shutdown(app)

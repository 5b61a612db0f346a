"""How a dashboard screen answers: pages (GET /_/...) and Datastar endpoints (/_/api/...).

`page(request, build)` and `endpoint(request, act)` run the superuser guard first: a page sends
a guest to the sign-in screen (and back afterwards), an endpoint tells the page to go there.
Errors an endpoint raises become a notice on the page, never a traceback; Datastar only
applies events of a 200 `text/event-stream`, so the outcome always travels in the events.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from datastar_py.litestar import DatastarResponse
from datastar_py.sse import DatastarEvent
from litestar import Request, Response

from core.admin.session import LOGIN, Admin, NotSignedIn, require_superuser
from core.api.common import core_app, json_response
from core.app import App
from core.errors import ApiError
from core.ui import render as ds_render
from core.ui.session import is_datastar
from core.ui.templates import render
from core.ui.views import app_name

log = logging.getLogger("core.admin")

HTML = "text/html"
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
SOMETHING_WRONG = "Something went wrong. Please try again."
HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str


NAV = (
    NavItem("collections", "Collections", "/_/collections"),
    NavItem("records", "Records", "/_/records"),
    NavItem("logs", "Logs", "/_/logs"),
    NavItem("settings", "Settings", "/_/settings"),
    NavItem("superusers", "Superusers", "/_/superusers"),
    NavItem("backups", "Backups", "/_/backups"),
    NavItem("crons", "Crons", "/_/crons"),
)
CLUSTER = NavItem("cluster", "Cluster", "/_/cluster")


def nav(app: App) -> tuple[NavItem, ...]:
    return (*NAV, CLUSTER) if app.services.get("ha") is not None else NAV


def act(method: str, path: str, *, form: bool = True, **options: Any) -> str:
    """A Datastar action: `@post("/_/api/x", {"contentType": "form"})`. Forms post as form data,
    so what is typed (passwords, secrets) never becomes a signal sent with later requests."""
    opts = {"contentType": "form", **options} if form else dict(options)
    return f"@{method}({json.dumps(path)}, {json.dumps(opts)})" if opts else f"@{method}({json.dumps(path)})"


def base_context(app: App, **extra: Any) -> dict[str, Any]:
    """What every admin template gets. `hide_controls` is settings.meta.hideControls: screens
    that change collections or records hide those controls when it is on, as PocketBase does."""
    meta = app.store.settings.get().get("meta") or {}
    accent = str(meta.get("accentColor") or "")
    return {
        # settings.meta.accentColor, as PocketBase's dashboard uses it (checked: it lands in CSS)
        "accent": accent if HEX_COLOR.fullmatch(accent) else "",
        "app_name": app_name(app),
        "act": act,
        "nav": nav(app),
        "active": "",
        "me": None,
        "hide_controls": bool(meta.get("hideControls")),
        **extra,
    }


def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(body, status_code=status, media_type=HTML, headers={**PAGE_HEADERS, **(headers or {})})


def render_page(admin: Admin, template: str, *, title: str, active: str, **extra: Any) -> Response[str]:
    """A whole screen inside the layout (admin/base.html)."""
    context = base_context(admin.app, title=title, active=active, me=admin.auth.record, **extra)
    return html(render(template, **context))


def fragment(admin: Admin, template: str, **extra: Any) -> Any:
    """A Datastar event morphing `template` (a partial with a top-level id) into the page."""
    return ds_render.merge(template, **base_context(admin.app, me=admin.auth.record, **extra))


def login_url(request: Request[Any, Any, Any]) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{LOGIN}?{urlencode({'next': here})}" if here not in ("/_/", LOGIN) else LOGIN


async def page(
    request: Request[Any, Any, Any], build: Callable[[Admin], Awaitable[Response[Any]]]
) -> Response[Any]:
    try:
        admin = await require_superuser(request)
        return await build(admin)
    except NotSignedIn:
        return Response(b"", status_code=303, headers={"Location": login_url(request), **PAGE_HEADERS})
    except ApiError as exc:
        context = base_context(core_app(request), title=f"Error {exc.status}", message=exc.message)
        return html(render("admin/error.html", **context), status=exc.status)


async def endpoint(
    request: Request[Any, Any, Any], handle: Callable[[Admin], Awaitable[Response[Any]]]
) -> Response[Any]:
    datastar = is_datastar(request)
    try:
        admin = await require_superuser(request)
    except ApiError as exc:
        if not datastar:
            return json_response(exc.to_json(), exc.status)
        return _no_store(ds_render.notice_response(exc.message, error=True))
    except NotSignedIn:
        if not datastar:
            return json_response(ApiError(401).to_json(), 401)
        return _no_store(ds_render.respond(ds_render.redirect(LOGIN)))
    try:
        return _no_store(await handle(admin))
    except ApiError as exc:
        if not datastar:
            return json_response(exc.to_json(), exc.status)
        return _no_store(ds_render.notice_response(exc.message, error=True))
    except Exception:
        log.exception("admin: %s %s failed", request.method, request.url.path)
        if not datastar:
            return json_response(ApiError(400).to_json(), 400)
        return _no_store(ds_render.notice_response(SOMETHING_WRONG, error=True))


def streamed(
    first: list[DatastarEvent],
    run: Callable[[], Awaitable[list[DatastarEvent]]],
    on_error: list[DatastarEvent] | None = None,
) -> Response[Any]:
    """An answer for a long action: `first` reaches the page at once (a progress line), then
    whatever `run` ends with; if `run` raises, `on_error` and a notice instead."""

    async def events() -> AsyncIterator[DatastarEvent]:
        for event in first:
            yield event
        try:
            for event in await run():
                yield event
        except ApiError as exc:
            for event in on_error or []:
                yield event
            yield ds_render.notice(exc.message, error=True)
        except Exception:
            log.exception("admin: a long action failed")
            for event in on_error or []:
                yield event
            yield ds_render.notice(SOMETHING_WRONG, error=True)

    return _no_store(DatastarResponse(events(), status_code=200))


def _no_store(response: Response[Any]) -> Response[Any]:
    response.headers["Cache-Control"] = "no-store"
    return response

"""Logs: GET /_/logs (filter, chart, paged list) and the request detail.

The list, the detail and the chart's numbers come from /api/logs, /api/logs/{id} and
/api/logs/stats: the filter is PocketBase's syntax, compiled by the API (a bad one comes back
as the API's message, shown under the filter box). A plain search term becomes a search over
level, message and data, and requests by superusers are left out unless asked for, as in
PocketBase's dashboard. The table and chart update in place; the address bar follows, so a
reload or a shared link shows the same view.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get

from core.admin import chart
from core.admin.screen import endpoint, fragment, page, render_page
from core.admin.session import Admin
from core.admin.table import DEFAULT_PER_PAGE, Paging, all_of, search_filter, table_query
from core.api import logs as logs_api
from core.errors import ApiError
from core.ui import render as ds_render

BASE = "/_/logs"
VIEW = "/_/api/logs/view"
SEARCH_FIELDS = ("level", "message", "data")
NO_SUPERUSERS = "data.auth!='_superusers'"
ERRORS = "level>=8"  # PocketBase's ERROR level: failed requests are logged with it
LEVELS = {-4: "DEBUG", 0: "INFO", 4: "WARN", 8: "ERROR"}


class LogsView:
    """One state of the screen, read from the URL: search text, superusers toggle, paging."""

    STATE = ("page", "perPage", "search", "superusers")

    def __init__(self, request: Request[Any, Any, Any]) -> None:
        q = request.query_params
        self.search = q.get("search", "").strip()
        self.superusers = q.get("superusers") in ("1", "true", "on")
        paging = table_query(request)
        self.state = {"page": paging["page"], "perPage": paging["perPage"], "search": self.search}
        if self.superusers:
            self.state["superusers"] = "1"
        flt = all_of(search_filter(self.search, SEARCH_FIELDS), "" if self.superusers else NO_SUPERUSERS)
        self.api_query = {
            "page": paging["page"],
            "perPage": paging["perPage"],
            "sort": "-created",
            "filter": flt,
        }

    @property
    def address(self) -> str:
        defaults = {"page": "1", "perPage": str(DEFAULT_PER_PAGE)}
        params = {k: v for k, v in self.state.items() if v and defaults.get(k) != v}
        return f"{BASE}?{urlencode(params)}" if params else BASE

    async def load(self, admin: Admin) -> dict[str, Any]:
        listed = await admin.call(logs_api.logs_list, query=self.api_query, method="GET")
        if not listed.ok:
            # most likely the filter: the API's own words go under the search box
            empty = Paging(query=self.state, state=self.STATE)
            return {"paging": empty, "chart": chart.Chart(), "filter_error": listed.message}
        flt = self.api_query["filter"]
        totals = await admin.call(logs_api.logs_stats, query={"filter": flt}, method="GET")
        errors = await admin.call(logs_api.logs_stats, query={"filter": all_of(flt, ERRORS)}, method="GET")
        return {
            "paging": Paging.of(listed.data, self.state, self.STATE),
            "chart": chart.build(totals.data if totals.ok else [], errors.data if errors.ok else []),
            "filter_error": "",
        }

    def context(self) -> dict[str, Any]:
        return {"search": self.search, "superusers": self.superusers, "levels": LEVELS}


@get(BASE)
async def logs_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        view = LogsView(request)
        return render_page(
            admin, "admin/logs.html", title="Logs", active="logs", **view.context(), **await view.load(admin)
        )

    return await page(request, build)


@get(VIEW)
async def logs_view(request: Request[Any, Any, Any]) -> Response[Any]:
    """The search form and the pager: new table, chart and filter error, and the address bar."""

    async def refresh(admin: Admin) -> Response[Any]:
        view = LogsView(request)
        context = {**view.context(), **await view.load(admin)}
        address = json.dumps(view.address)
        return ds_render.respond(
            fragment(admin, "admin/partials/logs_results.html", **context),
            ds_render.SSE.execute_script(f"history.replaceState(null, '', {address})"),
        )

    return await endpoint(request, refresh)


@get("/_/api/logs/{log_id:str}")
async def log_detail(request: Request[Any, Any, Any]) -> Response[Any]:
    async def show(admin: Admin) -> Response[Any]:
        result = await admin.call(
            logs_api.logs_view, path_params={"log_id": request.path_params["log_id"]}, method="GET"
        )
        if not result.ok:
            raise ApiError(result.status, result.message)
        entry = dict(result.data)
        return ds_render.respond(
            fragment(
                admin,
                "admin/partials/log_detail.html",
                entry=entry,
                levels=LEVELS,
                pretty=json.dumps(entry.get("data"), indent=2, ensure_ascii=False),
            )
        )

    return await endpoint(request, show)


routes = [logs_page, logs_view, log_detail]

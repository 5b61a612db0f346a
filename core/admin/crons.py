"""Crons: GET /_/crons lists the registered cron jobs (GET /api/crons) and runs one now
(POST /api/crons/{id}, which starts it in the background as PocketBase does)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from core.admin.screen import endpoint, page, render_page
from core.admin.session import Admin
from core.admin.settings_spec import TABS
from core.api import crons as crons_api
from core.errors import ApiError
from core.ui import render as ds_render


@get("/_/crons")
async def crons_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        result = await admin.call(crons_api.crons_list, method="GET")
        if not result.ok:
            raise ApiError(result.status, result.message)
        return render_page(
            admin, "admin/crons.html", title="Crons", active="crons", jobs=result.data, tabs=TABS
        )

    return await page(request, build)


@post("/_/api/crons/{job_id:str}", status_code=200)
async def run_cron(request: Request[Any, Any, Any]) -> Response[Any]:
    async def run(admin: Admin) -> Response[Any]:
        job_id = request.path_params["job_id"]
        result = await admin.call(crons_api.crons_run, path_params={"job_id": job_id})
        if not result.ok:
            return ds_render.notice_response(result.message, error=True)
        return ds_render.notice_response(f"Cron job {job_id} started.")

    return await endpoint(request, run)


routes = [crons_page, run_cron]

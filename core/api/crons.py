"""/api/crons: list the scheduled jobs and run one now (superusers only)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from core.api._helpers import pick_fields
from core.api.common import core_app, json_response, no_content, require_superuser
from core.app import App
from core.cron import Scheduler
from core.cron.jobs import register_builtin_jobs, sync_auto_backup
from core.errors import ApiError
from core.lifecycle import lifecycle_of
from core.store.db import Change

SERVICE = "cron"


def scheduler_of(app: App) -> Scheduler:
    """The app's scheduler with the built-in jobs (created on first use, on the event loop)."""
    found: Scheduler | None = app.services.get(SERVICE)
    if found is None:
        found = Scheduler(guard=lifecycle_of(app).lease)
        register_builtin_jobs(found, app)
        app.services[SERVICE] = found
    return found


@get("/api/crons")
async def crons_list(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    jobs = [job.to_json() for job in scheduler_of(core_app(request)).jobs()]
    return json_response(pick_fields(request, jobs))


@post("/api/crons/{job_id:str}", status_code=200)
async def crons_run(request: Request[Any, Any, Any]) -> Response[bytes]:
    job_id = str(request.path_params["job_id"])
    await require_superuser(request)
    scheduler = scheduler_of(core_app(request))
    job = scheduler.find(job_id)
    if job is None:
        raise ApiError(404, "Missing or invalid cron job.")
    scheduler.run(job)  # in the background, like PocketBase
    return no_content()


def on_startup(app: App) -> None:
    scheduler = scheduler_of(app)

    def on_change(change: Change) -> None:
        if change.tags.get("settings_changed"):
            sync_auto_backup(scheduler, app)

    app.services["cron.listener"] = on_change
    app.store.db.listeners.append(on_change)
    lifecycle_of(app).after_reopen.append(lambda: sync_auto_backup(scheduler, app))
    if app.settings.worker == 0:  # one process runs the schedule; any may run a job on request
        scheduler.start()


async def on_shutdown(app: App) -> None:
    listener = app.services.pop("cron.listener", None)
    if listener in app.store.db.listeners:
        app.store.db.listeners.remove(listener)
    scheduler: Scheduler | None = app.services.pop(SERVICE, None)
    if scheduler is not None:
        await scheduler.stop()


routes = [crons_list, crons_run]

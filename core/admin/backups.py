"""Backups: GET /_/backups and its endpoints (create, upload, download, restore, delete, and the
auto-backup cron / max keep, which are settings saved through the Settings endpoint).

Each action runs the /api/backups handler of the same name. Creating, uploading and restoring
take a while: those answers are streams whose first event shows the progress on the page and
whose last one shows the outcome, so the page never waits blind. A restore must type the
backup's name, as PocketBase's dashboard asks.
"""

from __future__ import annotations

from typing import Any

from datastar_py.sse import DatastarEvent
from litestar import Request, Response, get, post

from core.admin import forms
from core.admin.screen import endpoint, fragment, page, render_page, streamed
from core.admin.session import Admin
from core.admin.settings import current, form_context
from core.admin.settings_spec import BY_KEY
from core.api import backups as backups_api
from core.api.common import json_response
from core.errors import ApiError
from core.ui import render as ds_render
from core.ui.bridge import Result

LIST = "admin/partials/backups_list.html"
PROGRESS = "admin/partials/backups_progress.html"


async def _items(admin: Admin) -> list[dict[str, Any]]:
    result = await admin.call(backups_api.backups_list, method="GET")
    if not result.ok:
        raise ApiError(result.status, result.message)
    return sorted(result.data, key=lambda b: str(b.get("modified") or ""), reverse=True)


@get("/_/backups")
async def backups_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        tab = BY_KEY["backups"]
        restored = request.query_params.get("restored", "")
        return render_page(
            admin,
            "admin/backups.html",
            title="Backups",
            active="backups",
            items=await _items(admin),
            progress="",
            text=f"Backup {restored} restored." if restored else "",
            **form_context(tab, await current(admin)),
        )

    return await page(request, build)


def _progress(admin: Admin, text: str) -> DatastarEvent:
    return fragment(admin, PROGRESS, progress=text)


def _message(result: Result, done: str) -> str:
    if result.ok:
        return done
    errors = forms.errors_of(result)
    return " ".join([result.message, *errors.fields.values()])


async def _outcome(admin: Admin, result: Result, done: str) -> list[DatastarEvent]:
    return [
        _progress(admin, ""),
        ds_render.notice(_message(result, done), error=not result.ok),
        fragment(admin, LIST, items=await _items(admin)),
    ]


@get("/_/api/backups/list")
async def backups_list(request: Request[Any, Any, Any]) -> Response[Any]:
    async def show(admin: Admin) -> Response[Any]:
        return ds_render.respond(fragment(admin, LIST, items=await _items(admin)))

    return await endpoint(request, show)


@post("/_/api/backups", status_code=200)
async def create_backup(request: Request[Any, Any, Any]) -> Response[Any]:
    async def start(admin: Admin) -> Response[Any]:
        name = str((await forms.read_form(request)).get("name") or "").strip()

        async def run() -> list[DatastarEvent]:
            result = await admin.call(backups_api.backups_create, body={"name": name} if name else {})
            return await _outcome(admin, result, "Backup created.")

        return streamed([_progress(admin, "Creating a backup…")], run, [_progress(admin, "")])

    return await endpoint(request, start)


@post("/_/api/backups/upload", status_code=200, request_max_body_size=None)
async def upload_backup(request: Request[Any, Any, Any]) -> Response[Any]:
    async def upload(admin: Admin) -> Response[Any]:
        # the multipart body goes to the API handler as it came (the file is never copied here)
        result = await admin.call(backups_api.backups_upload, forward_body=True)
        if "application/json" in request.headers.get("accept", ""):
            # admin.js's upload with a progress bar (fetch, and so Datastar, cannot report
            # upload progress): it shows this and reloads the list itself
            return json_response({"ok": result.ok, "message": _message(result, "Backup uploaded.")})
        return ds_render.respond(*await _outcome(admin, result, "Backup uploaded."))

    return await endpoint(request, upload)


@get("/_/api/backups/{key:str}/download")
async def download_backup(request: Request[Any, Any, Any]) -> Response[Any]:
    """A plain link (no Datastar): the API wants a superuser file token in `?token=`, which is
    made here for this one download and never reaches the browser."""

    async def download(admin: Admin) -> Response[Any]:
        key = request.path_params["key"]
        result = await admin.call(
            backups_api.backups_download,
            path_params={"key": key},
            query={"token": await admin.file_token()},
            method="GET",
        )
        return result.response

    return await endpoint(request, download)


@post("/_/api/backups/{key:str}/delete", status_code=200)
async def delete_backup(request: Request[Any, Any, Any]) -> Response[Any]:
    async def remove(admin: Admin) -> Response[Any]:
        key = request.path_params["key"]
        result = await admin.call(backups_api.backups_delete, path_params={"key": key}, method="DELETE")
        return ds_render.respond(*await _outcome(admin, result, f"Backup {key} deleted."))

    return await endpoint(request, remove)


@post("/_/api/backups/{key:str}/restore", status_code=200)
async def restore_backup(request: Request[Any, Any, Any]) -> Response[Any]:
    async def restore(admin: Admin) -> Response[Any]:
        key = request.path_params["key"]
        typed = str((await forms.read_form(request)).get("confirm") or "").strip()
        if typed != key:
            return ds_render.notice_response("Type the backup's name to confirm the restore.", error=True)

        async def run() -> list[DatastarEvent]:
            result = await admin.call(backups_api.backups_restore, path_params={"key": key})
            if not result.ok:
                return await _outcome(admin, result, "")
            # the restored data may not know this session's superuser: reload through the guard
            return [_progress(admin, ""), ds_render.redirect("/_/backups?restored=" + key)]

        working = _progress(admin, f"Restoring {key}… requests wait until the data is back.")
        return streamed([working], run, [_progress(admin, "")])

    return await endpoint(request, restore)


routes = [
    backups_page,
    backups_list,
    create_backup,
    upload_backup,
    download_backup,
    delete_backup,
    restore_backup,
]

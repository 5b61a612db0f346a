"""/api/backups: list, create, upload, download, delete and restore backups.

Everything is superuser-only except the download, which is authorized by a superuser *file*
token in `?token=` (so a browser can follow the link). A restore is checked completely first (a
corrupt or foreign archive gets a 400 and changes nothing), then swapped in behind the request
gate (core/lifecycle.py) while the process keeps running; under `--ha`, sent through the
changelog so that every node restores it. PocketBase answers 204 at once and
restarts; here the 204 comes once the restored data is live, so a failure is reported, not lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.response import File

from core.api._gate import RequestGateMiddleware
from core.api._helpers import pick_fields, read_json_object
from core.api._superuser_ips import superuser_ip_allowed
from core.api.common import core_app, json_response, no_content, require_superuser
from core.api.record_auth import client_ip
from core.app import App
from core.backups import BackupError, BackupService
from core.backups.archive import ArchiveError
from core.backups.layout import NAME_RE
from core.backups.lock import DataDirLock
from core.backups.restore import PreparedRestore, clean_temp, trial_open_store
from core.errors import ApiError
from core.lifecycle import GateBusy, lifecycle_of

log = logging.getLogger("core.backups")

SERVICE = "backups"
VALIDATION_FAILED = "An error occurred while validating the submitted data."
CREATE_BUSY = "Try again later - another backup/restore process has already been started"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
FETCH_TIMEOUT = 600.0  # seconds a backup under --ha may spend fetching the files it lacks


def _service(request: Request[Any, Any, Any]) -> BackupService:
    found: BackupService | None = core_app(request).services.get(SERVICE)
    if found is None:
        raise ApiError(400, "Failed to load backups filesystem.")
    return found


@get("/api/backups")
async def backups_list(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    items = await asyncio.to_thread(_service(request).list)
    return json_response(pick_fields(request, [b.to_json() for b in items]))


@post("/api/backups", status_code=200)
async def backups_create(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    service = _service(request)
    if service.active is not None:
        raise ApiError(400, CREATE_BUSY)
    body = await read_json_object(request)
    name = body.get("name")
    name = "" if name is None else name
    if not isinstance(name, str):
        raise ApiError(400, "An error occurred while loading the submitted data.")
    error = _name_error(service, name)
    if error is not None:
        raise ApiError(400, VALIDATION_FAILED, {"name": error})
    try:
        await asyncio.to_thread(service.create, name)
    except BackupError as e:
        raise ApiError(400, e.message) from None
    except (ArchiveError, OSError) as e:
        log.exception("failed to create backup")
        raise ApiError(400, f"Failed to create backup. Raw error: \n{e}") from None
    return no_content()


def _name_error(service: BackupService, name: str) -> dict[str, Any] | None:
    if not name:
        return None
    if len(name) > 150:
        return {
            "code": "validation_length_out_of_range",
            "message": "The length must be between 1 and 150.",
            "params": {"max": 150, "min": 1},
        }
    if not NAME_RE.match(name):
        return {"code": "validation_match_invalid", "message": "Must be in a valid format."}
    if service.path(name) is not None:
        return {
            "code": "validation_backup_name_exists",
            "message": "The backup file name is invalid or already exists.",
        }
    return None


@post("/api/backups/upload", status_code=200, request_max_body_size=None)
async def backups_upload(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_superuser(request)
    service = _service(request)
    upload = await _uploaded_file(request)
    if upload is None:
        raise ApiError(
            400, VALIDATION_FAILED, {"file": {"code": "validation_required", "message": "Cannot be blank."}}
        )
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    head = await upload.read(4)
    await upload.seek(0)
    if head not in ZIP_MAGIC:
        message = f'"{name}" mime type must be one of: application/zip.'
        raise ApiError(
            400, VALIDATION_FAILED, {"file": {"code": "validation_invalid_mime_type", "message": message}}
        )
    if service.path(name) is not None:
        raise ApiError(
            400,
            VALIDATION_FAILED,
            {
                "file": {
                    "code": "validation_backup_name_exists",
                    "message": "Backup file with the specified name already exists.",
                }
            },
        )
    try:
        await asyncio.to_thread(service.save_upload, name, upload.file)
    except (BackupError, OSError) as e:
        raise ApiError(400, f"Failed to upload backup. Raw error: \n{e}") from None
    return no_content()


async def _uploaded_file(request: Request[Any, Any, Any]) -> UploadFile | None:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return None
    try:
        form = await request.form()
    except Exception:
        raise ApiError(400, "An error occurred while loading the submitted data.") from None
    for value in form.getall("file") if "file" in form else []:
        if isinstance(value, UploadFile):
            return value
    return None


@get("/api/backups/{key:str}")
async def backups_download(request: Request[Any, Any, Any]) -> Response[Any]:
    key = str(request.path_params["key"])
    app = core_app(request)
    found = await app.auth.verify(request.query_params.get("token", ""), "file")
    if (
        found is None
        or found[0].name != "_superusers"
        or not superuser_ip_allowed(app, client_ip(app, request))
    ):
        raise ApiError(403, "Insufficient permissions to access the resource.")
    path = _service(request).path(key)
    if path is None:
        raise ApiError(404)
    return File(
        path=path,
        filename=key,
        media_type="application/zip" if key.endswith(".zip") else "application/octet-stream",
        content_disposition_type="attachment",
        headers={
            "Content-Security-Policy": "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox"
        },
    )


@delete("/api/backups/{key:str}", status_code=200)
async def backups_delete(request: Request[Any, Any, Any]) -> Response[bytes]:
    key = str(request.path_params["key"])
    await require_superuser(request)
    try:
        await asyncio.to_thread(_service(request).delete, key)
    except BackupError as e:
        raise ApiError(400, e.message) from None
    return no_content()


@post("/api/backups/{key:str}/restore", status_code=200)
async def backups_restore(request: Request[Any, Any, Any]) -> Response[bytes]:
    key = str(request.path_params["key"])
    await require_superuser(request)
    app = core_app(request)
    service = _service(request)
    try:
        service.acquire(key)
    except BackupError as e:
        raise ApiError(400, e.message) from None
    try:
        prepared = await asyncio.to_thread(service.prepare_restore, key, trial_open_store(app.settings.env))
    except BackupError as e:
        service.release()
        raise ApiError(400, e.message) from None
    except (ArchiveError, OSError) as e:
        service.release()
        raise ApiError(400, f"Failed to restore backup. Raw error: \n{e}") from None
    ha = app.services.get("ha")
    if ha is not None:
        await _restore_through_changelog(ha, key, prepared, service)
        return no_content()
    try:
        # this request holds no gate lease (see RequestGateMiddleware), so the gate can close
        await lifecycle_of(app).reopen(prepared.swap, prepared.undo)
    except GateBusy as e:
        raise ApiError(400, f"Try again later - the server is busy ({e}).") from None
    except Exception as e:
        log.exception("failed to restore backup %s; the previous data is kept", key)
        raise ApiError(400, f"Failed to restore backup. Raw error: \n{type(e).__name__}: {e}") from None
    finally:
        await asyncio.to_thread(prepared.discard)
        service.release()
    log.info("backup %s restored", key)
    return no_content()


async def _restore_through_changelog(
    ha: Any, key: str, prepared: PreparedRestore, service: BackupService
) -> None:
    """Under --ha the restore is one changelog entry that every node applies (core/ha/restore.py):
    replacing this node's files alone would split the cluster."""
    from core.ha.restore import RestoreError, restore_backup

    try:
        seq = await restore_backup(ha, prepared.extracted)
    except RestoreError as e:
        raise ApiError(e.status, e.message) from None
    finally:
        await asyncio.to_thread(prepared.discard)
        service.release()
    log.info("backup %s restored on every node (changelog entry %d)", key, seq)


def on_startup(app: App) -> None:
    lifecycle_of(app)
    lock = DataDirLock(app.store.dir)
    if lock.acquire(exclusive=False):
        app.services["backups.lock"] = lock
    clean_temp(app.store.dir)
    service = app.services[SERVICE] = BackupService(app.store.dir, app.store.settings.get)
    ha = app.services.get("ha")
    if ha is not None:
        service.before_create = _fetch_record_files(app, ha, asyncio.get_running_loop())


def _fetch_record_files(app: App, ha: Any, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Under --ha a node keeps only the files it has served: a backup fetches the others first."""
    from core.ha.files import referenced_files

    def fetch() -> None:
        names = app.store.db.read_sync(referenced_files)
        future = asyncio.run_coroutine_threadsafe(ha.files.fetch_missing(app.store.storage, names), loop)
        try:
            future.result(FETCH_TIMEOUT)
        except Exception as e:  # a backup without every file is worse than none: refuse it
            future.cancel()
            raise BackupError(f"Failed to fetch the record files from the cluster: {e}") from None

    return fetch


async def on_shutdown(app: App) -> None:
    lock = app.services.pop("backups.lock", None)
    if lock is not None:
        lock.release()
    app.services.pop(SERVICE, None)


routes = [backups_list, backups_create, backups_upload, backups_download, backups_delete, backups_restore]
middleware = [RequestGateMiddleware]

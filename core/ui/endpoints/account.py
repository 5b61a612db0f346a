"""/api/ds/update-profile (PATCH or POST) and DELETE /api/ds/account: the session's own record.

They stand for PATCH and DELETE /api/collections/{c}/records/{own id}: the collection's update
and delete rules, its validation and its answers (200 + record, 204). From the page, only the
profile form's fields are taken (a checkbox left unticked means false; an empty file input
keeps the file).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, patch, post

from core.api.common import json_response, no_content, read_body
from core.errors import ApiError
from core.store.fields.file import UploadedFile
from core.store.record_view import FieldsSpec
from core.store.store import RecordView
from core.ui import render
from core.ui.bridge import error_result
from core.ui.context import Ds, run
from core.ui.endpoints.session import own_record_write
from core.ui.signin import Form
from core.ui.templates import url
from core.ui.views import Viewer, profile_fields, settings_view, viewer

PROFILE = Form("partials/settings/profile.html", (), {400: "Please check the fields below."})
DELETE = Form("partials/settings/delete.html", ("confirm",))


@patch("/api/ds/update-profile")
async def update_profile(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _update_profile)


@post("/api/ds/update-profile", status_code=200)
async def update_profile_post(request: Request[Any, Any, Any]) -> Response[Any]:
    # POST too: HTML forms and some clients cannot send PATCH
    return await run(request, _update_profile)


async def _update_profile(ds: Ds) -> Response[Any]:
    col, who, auth = own_record_write(ds, "PATCH")
    posted = await read_body(ds.request)
    fields = profile_fields(col, who.record)
    if ds.datastar:
        body = _profile_body(fields, posted)
        view = RecordView()
    else:
        body = posted
        q = ds.request.query_params
        view = RecordView(q.get("expand", ""), FieldsSpec.parse(q.get("fields", "")))
    try:
        updated = await ds.app.store.update_record(col, auth.id, body, ds.request_context(body), view)
    except ApiError as exc:
        if not ds.datastar:
            raise
        names = tuple(f.name for f in fields)
        errors, general = render.errors_of(error_result(exc), names, dict(PROFILE.messages))
        shown = profile_fields(
            col, {**who.record, **{k: v for k, v in body.items() if isinstance(v, (str, bool))}}
        )
        context = ds.context(profile=shown, errors=errors, error=general)
        return render.respond(render.merge(PROFILE.template, **context))
    if not ds.datastar:
        return json_response(updated.presented)
    fresh = await viewer(ds.app, ds.token)
    ds.viewer = fresh
    return render.respond(
        render.signals(fresh.signals()),
        render.merge("partials/settings_body.html", **ds.context(**await settings_view(ds.app, fresh))),
        render.notice("Your profile is saved."),
    )


def _profile_body(fields: list[Any], posted: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for f in fields:
        value = posted.get(f.name)
        if f.type == "bool":
            values = value if isinstance(value, list) else [value]
            body[f.name] = "true" in values or "on" in values
        elif f.type == "file":
            files = [
                v for v in (value if isinstance(value, list) else [value]) if isinstance(v, UploadedFile)
            ]
            files = [v for v in files if v.size]
            if files:
                body[f.name] = files[0]
        elif isinstance(value, str):
            body[f.name] = value.strip()
    return body


@delete("/api/ds/account", status_code=200)
async def delete_account(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _delete_account)


async def _delete_account(ds: Ds) -> Response[Any]:
    col, who, auth = own_record_write(ds, "DELETE")
    if ds.datastar and (await ds.fields("confirm"))["confirm"] != "yes":
        errors = {"confirm": "Tick the box to confirm."}
        return render.respond(render.merge(DELETE.template, **ds.context(errors=errors)))
    try:
        await ds.app.store.delete_record(col, auth.id, ds.request_context({}))
    except ApiError as exc:
        if not ds.datastar:
            raise
        _, general = render.errors_of(error_result(exc), DELETE.fields)
        return render.respond(render.merge(DELETE.template, **ds.context(error=general or exc.message)))
    ds.sign_out()
    if not ds.datastar:
        return no_content()
    return render.respond(render.signals(Viewer().signals()), render.redirect(url("/ds", col.name, bye="1")))


routes = [update_profile, update_profile_post, delete_account]

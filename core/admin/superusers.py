"""Superusers: list, create, change password, delete (GET /_/superusers, /_/api/superusers/...).

Everything goes through the `_superusers` record endpoints of the REST API, so the
collection's validation applies, and the writer's own rule keeps the last superuser (PocketBase
refuses to delete the only one: "You can't delete the only existing superuser.").
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from core.admin import forms
from core.admin.screen import endpoint, fragment, page, render_page
from core.admin.session import Admin
from core.admin.table import Paging, table_query
from core.api import records
from core.superusers import SUPERUSERS
from core.ui import render as ds_render

BASE = "/_/superusers"
TABLE = "admin/partials/superusers_table.html"
CREATE = "admin/partials/superuser_create.html"
PASSWORD = "admin/partials/superuser_password.html"
PASSWORD_INPUTS = ("password", "passwordConfirm")


async def _paging(admin: Admin) -> Paging:
    query = table_query(admin.request, sort="-created")
    result = await admin.call(records.list_records, path_params={"collection": SUPERUSERS}, query=query)
    return Paging.of(result.data, query)


@get(BASE)
async def superusers_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        paging = await _paging(admin)
        return render_page(
            admin,
            "admin/superusers.html",
            title="Superusers",
            active="superusers",
            paging=paging,
            values={},
            errors={},
            error="",
        )

    return await page(request, build)


@get("/_/api/superusers/table")
async def superusers_table(request: Request[Any, Any, Any]) -> Response[Any]:
    async def table(admin: Admin) -> Response[Any]:
        return ds_render.respond(fragment(admin, TABLE, paging=await _paging(admin)))

    return await endpoint(request, table)


@post("/_/api/superusers", status_code=200)
async def create_superuser(request: Request[Any, Any, Any]) -> Response[Any]:
    async def create(admin: Admin) -> Response[Any]:
        f = await _form(admin, "email", *PASSWORD_INPUTS)
        result = await admin.call(records.create_record, path_params={"collection": SUPERUSERS}, body=f)
        if not result.ok:
            errors = forms.errors_of(result, ("email", *PASSWORD_INPUTS))
            return ds_render.respond(
                fragment(
                    admin, CREATE, values={"email": f["email"]}, errors=errors.fields, error=errors.message
                )
            )
        return ds_render.respond(
            fragment(admin, CREATE, values={}, errors={}, error=""),
            fragment(admin, TABLE, paging=await _paging(admin)),
            ds_render.notice(f"Superuser {f['email']} created."),
        )

    return await endpoint(request, create)


@post("/_/api/superusers/{record_id:str}/password", status_code=200)
async def change_password(request: Request[Any, Any, Any]) -> Response[Any]:
    return await endpoint(request, lambda admin: _change_password(admin, request.path_params["record_id"]))


async def _change_password(admin: Admin, record_id: str) -> Response[Any]:
    f = await _form(admin, *PASSWORD_INPUTS)
    path = {"collection": SUPERUSERS, "record_id": record_id}
    result = await admin.call(records.update_record, path_params=path, body=f, method="PATCH")
    if not result.ok:
        errors = forms.errors_of(result, PASSWORD_INPUTS)
        form = fragment(admin, PASSWORD, row={"id": record_id}, errors=errors.fields, error=errors.message)
        return ds_render.respond(form)
    return ds_render.respond(
        fragment(admin, TABLE, paging=await _paging(admin)),
        ds_render.notice(f"Password of {result.data.get('email', record_id)} changed."),
    )


@post("/_/api/superusers/{record_id:str}/delete", status_code=200)
async def delete_superuser(request: Request[Any, Any, Any]) -> Response[Any]:
    return await endpoint(request, lambda admin: _delete(admin, request.path_params["record_id"]))


async def _delete(admin: Admin, record_id: str) -> Response[Any]:
    path = {"collection": SUPERUSERS, "record_id": record_id}
    result = await admin.call(records.delete_record, path_params=path, method="DELETE")
    if not result.ok:
        return ds_render.notice_response(result.message, error=True)
    events = [fragment(admin, TABLE, paging=await _paging(admin)), ds_render.notice("Superuser deleted.")]
    if record_id == admin.auth.id:
        events.append(ds_render.redirect("/_/login"))  # that was this session's own account
    return ds_render.respond(*events)


async def _form(admin: Admin, *names: str) -> dict[str, str]:
    body = await forms.read_form(admin.request)
    return {name: str(body.get(name) or "") for name in names}


routes = [superusers_page, superusers_table, create_superuser, change_password, delete_superuser]

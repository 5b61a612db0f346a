"""The record form: GET /_/records/{collection}/new and /_/records/{collection}/edit/{id}.

Every field type has its input (records_values reads them back): text, email, url, editor
(HTML source), number, bool, date (UTC), select (one or many), json (text, parsed before the
call), geoPoint, file (upload with preview thumbs, remove per file), relation (a picker that
searches the target collection through its list API). Saving runs the records create/update
handler of the REST API with the typed values as `@jsonPayload` and the uploads as files: the
same validation, rules, hooks and file handling as an API client, errors next to their inputs.

Auth records add email visibility, verified, a password (required when creating), and the
actions of PocketBase's dashboard: impersonate (a token of the chosen duration), send a
verification or password reset mail, through the very API endpoints an app calls.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from datastar_py.consts import FragmentMergeMode
from datastar_py.litestar import read_signals
from litestar import Request, Response, get, post

from core.admin import forms
from core.admin import records_values as values
from core.admin.records import API, BASE, collection_of, file_token, posted_form, table_base
from core.admin.screen import endpoint, fragment, page, render_page
from core.admin.session import Admin
from core.api import record_auth
from core.api import record_auth_password_reset as reset_api
from core.api import record_auth_verification as verification_api
from core.api import records as records_api
from core.errors import ApiError
from core.ui import bridge
from core.ui import render as ds_render
from core.ui.bridge import Result
from core.ui.templates import fragment as render_fragment

FORM = "admin/records/form.html"
FORM_ID = "record-form"
RELATION_OPTIONS = "admin/records/relation_options.html"
RELATION_CHIP = "admin/records/relation_chip.html"
IMPERSONATE = "admin/records/impersonate.html"
SEARCH_LIMIT = 20


def edit_url(collection: str, record_id: str) -> str:
    return f"{BASE}/{collection}/edit/{record_id}"


async def _record(admin: Admin, collection: str, record_id: str) -> dict[str, Any]:
    path = {"collection": collection, "record_id": record_id}
    result = await admin.call(records_api.view_record, path_params=path, method="GET")
    if not result.ok or not isinstance(result.data, dict):
        raise_of(result)
    return dict(result.data)


def raise_of(result: Result) -> None:
    raise ApiError(result.status if not result.ok else 404, result.message or None)


async def _labels(admin: Admin, collection: dict[str, Any], record: dict[str, Any]) -> dict[str, str]:
    """id -> a readable label of every record the relations of `record` point at."""
    out: dict[str, str] = {}
    for f in collection.get("fields") or []:
        if f.get("type") != "relation":
            continue
        ids = values.as_list(record.get(f.get("name")))
        if not ids:
            continue
        target = str(f.get("collectionId") or "")
        found = await _search(admin, target, "", ids)
        out.update(found)
    return out


async def _search(admin: Admin, target: str, q: str, ids: list[str] | None = None) -> list[tuple[str, str]]:
    """(id, label) of the records of `target` whose id or text fields contain `q` (or whose id
    is in `ids`)."""
    collection = await collection_of(admin, target)
    presentable = [str(f["name"]) for f in collection.get("fields") or [] if f.get("presentable")]
    if ids is not None:
        terms = [f"id='{_quote(i)}'" for i in ids]
    else:
        q = _quote(q)
        texts = [
            str(f["name"])
            for f in collection.get("fields") or []
            if f.get("type") in ("text", "email", "url") and not f.get("hidden") and f.get("name") != "id"
        ]
        terms = [f"{name}~'{q}'" for name in ("id", *texts)] if q else []
    query = {"perPage": str(SEARCH_LIMIT if ids is None else max(len(ids), 1)), "sort": "-@rowid"}
    if terms:
        query["filter"] = " || ".join(terms)
    path = {"collection": str(collection["name"])}
    result = await admin.call(records_api.list_records, path_params=path, query=query, method="GET")
    items = result.data.get("items") if result.ok and isinstance(result.data, dict) else []
    return [(str(r["id"]), values.record_label(r, presentable)) for r in items or [] if isinstance(r, dict)]


def _quote(text: str) -> str:
    # a search term inside a '...' filter literal: no quote or escape can end it early
    return "".join(ch for ch in text if ch not in "'\"\\")[:100]


async def _form_context(
    admin: Admin,
    collection: dict[str, Any],
    record: dict[str, Any],
    record_id: str,
    *,
    errors: dict[str, str] | None = None,
    error: str = "",
) -> dict[str, Any]:
    """What the form shows: `record` (as stored, or as typed), `record_id` empty for a new one."""
    name = str(collection["name"])
    save = f"{API}/{name}/{record_id}/save" if record_id else f"{API}/{name}/new"
    labels = await _labels(admin, collection, record)
    token = await file_token(admin, collection) if record_id else ""
    return {
        "collection": collection,
        "record": record,
        "record_id": record_id,
        "fields": values.editable_fields(collection),
        "labels": labels,
        "file_token": token,
        "errors": errors or {},
        "error": error,
        "save": save,
        "api": f"{API}/{name}",
        "back": table_base(name),
        "form_id": FORM_ID,
        "v": values,
    }


@get(f"{BASE}/{{collection:str}}/new")
async def new_record_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        collection = await collection_of(admin, request.path_params["collection"])
        context = await _form_context(admin, collection, {}, "")
        return render_page(
            admin,
            "admin/records/edit.html",
            title=f"New {collection['name']} record",
            active="records",
            **context,
        )

    return await page(request, build)


@get(f"{BASE}/{{collection:str}}/edit/{{record_id:str}}")
async def edit_record_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        collection = await collection_of(admin, request.path_params["collection"])
        record = await _record(admin, str(collection["name"]), request.path_params["record_id"])
        context = await _form_context(admin, collection, record, str(record["id"]))
        title = f"{collection['name']} record {record['id']}"
        return render_page(admin, "admin/records/edit.html", title=title, active="records", **context)

    return await page(request, build)


@post(f"{API}/{{collection:str}}/new", status_code=200, request_max_body_size=None)
async def create_record(request: Request[Any, Any, Any]) -> Response[Any]:
    return await endpoint(request, lambda admin: _save(admin, request.path_params["collection"], ""))


@post(f"{API}/{{collection:str}}/{{record_id:str}}/save", status_code=200, request_max_body_size=None)
async def update_record(request: Request[Any, Any, Any]) -> Response[Any]:
    params = request.path_params
    return await endpoint(request, lambda admin: _save(admin, params["collection"], params["record_id"]))


async def _save(admin: Admin, name: str, record_id: str) -> Response[Any]:
    collection = await collection_of(admin, name)
    name = str(collection["name"])
    posted = values.read_record_form(collection, await posted_form(admin), creating=not record_id)
    result: Result | None = None
    if not posted.errors:
        result = await _call_with_files(admin, name, record_id, posted)
        if result.ok and isinstance(result.data, dict):
            saved = str(result.data.get("id") or "")
            return ds_render.respond(ds_render.redirect(f"{table_base(name)}?saved={saved}"))
    errors = {**(forms.errors_of(result).fields if result else {}), **posted.errors}
    message = forms.errors_of(result).message if result else "Please check the marked inputs."
    shown = {str(f.get("name")) for f in values.editable_fields(collection)} | {"password", "passwordConfirm"}
    others = [f"{k}: {m}" for k, m in errors.items() if k.rstrip("+-") not in shown]
    # what was typed stays in the form: the record as posted, over the stored one
    record = {**(await _record(admin, name, record_id) if record_id else {}), **posted.body}
    context = await _form_context(
        admin,
        collection,
        record,
        record_id,
        errors={k.rstrip("+-"): m for k, m in errors.items()},
        error=" ".join([message, *others]),
    )
    return ds_render.respond(fragment(admin, FORM, **context))


async def _call_with_files(admin: Admin, name: str, record_id: str, posted: values.Posted) -> Result:
    """Create or update through the records API: JSON without uploads, else multipart with the
    values as `@jsonPayload` (the API's own limits and checks apply to the whole body)."""
    handler = records_api.update_record if record_id else records_api.create_record
    method = "PATCH" if record_id else "POST"
    path = {"collection": name, **({"record_id": record_id} if record_id else {})}
    if not posted.files:
        return await admin.call(handler, path_params=path, body=posted.body, method=method)
    boundary = "coreadmin" + secrets.token_hex(12)
    raw = await _multipart(boundary, posted)
    headers = [(k, v) for k, v in admin.request.scope["headers"] if k.lower() != b"content-type"]
    headers.append((b"content-type", f"multipart/form-data; boundary={boundary}".encode()))
    scope: Any = {**admin.request.scope, "headers": headers}
    carrier: Request[Any, Any, Any] = Request(scope, bridge._one_shot(raw))
    return await bridge.call(handler, carrier, path_params=path, token=admin.token, method=method, query={})


async def _multipart(boundary: str, posted: values.Posted) -> bytes:
    parts: list[bytes] = []
    head = f"--{boundary}\r\n".encode()
    payload = json.dumps(posted.body).encode()
    parts += [head, b'Content-Disposition: form-data; name="@jsonPayload"\r\n\r\n', payload, b"\r\n"]
    for key, upload in posted.files:
        filename = str(upload.filename).replace('"', "").replace("\r", "").replace("\n", "")
        kind = str(getattr(upload, "content_type", "") or "application/octet-stream")
        disposition = f'Content-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
        parts += [head, disposition.encode(), f"Content-Type: {kind}\r\n\r\n".encode()]
        parts += [await upload.read(), b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


@get(f"{API}/{{collection:str}}/relation/{{field:str}}")
async def relation_search(request: Request[Any, Any, Any]) -> Response[Any]:
    """The picker's options: records of the field's target matching what is typed."""

    async def search(admin: Admin) -> Response[Any]:
        collection = await collection_of(admin, request.path_params["collection"])
        f = _relation_field(collection, request.path_params["field"])
        q = request.query_params.get("q", "")
        if not q:
            signals = await _signals(request)
            q = str((signals.get("relq") or {}).get(f["name"]) or "")
        found = await _search(admin, str(f.get("collectionId") or ""), q)
        context = {
            "f": f,
            "options": found,
            "api": f"{API}/{collection['name']}",
        }
        return ds_render.respond(fragment(admin, RELATION_OPTIONS, **context))

    return await endpoint(request, search)


@get(f"{API}/{{collection:str}}/relation/{{field:str}}/pick")
async def relation_pick(request: Request[Any, Any, Any]) -> Response[Any]:
    """A picked record joins the field's chips (replaces the one chip of a single relation)."""

    async def pick(admin: Admin) -> Response[Any]:
        collection = await collection_of(admin, request.path_params["collection"])
        f = _relation_field(collection, request.path_params["field"])
        found = await _search(
            admin, str(f.get("collectionId") or ""), "", [request.query_params.get("id", "")]
        )
        if not found:
            return ds_render.notice_response("That record no longer exists.", error=True)
        context = {"f": f, "options": [], "api": f"{API}/{collection['name']}"}
        return ds_render.respond(_chip(f, found[0]), fragment(admin, RELATION_OPTIONS, **context))

    return await endpoint(request, pick)


def _chip(f: dict[str, Any], picked: tuple[str, str]) -> Any:
    """The picked record's chip, appended to the chosen ones (or replacing the one chip of a
    single relation): the chips are the form's inputs, so the page keeps the choice."""
    html = render_fragment(RELATION_CHIP, f=f, rid=picked[0], label=picked[1])
    mode = FragmentMergeMode.APPEND if values.is_multi(f) else FragmentMergeMode.INNER
    return ds_render.SSE.merge_fragments(html, selector=f"#rel-{f['name']}-selected", merge_mode=mode)


def _relation_field(collection: dict[str, Any], name: str) -> dict[str, Any]:
    for f in collection.get("fields") or []:
        if f.get("name") == name and f.get("type") == "relation":
            return dict(f)
    raise ApiError(404)


async def _signals(request: Request[Any, Any, Any]) -> dict[str, Any]:
    try:
        return await read_signals(request) or {}
    except ValueError:
        return {}


@post(f"{API}/{{collection:str}}/{{record_id:str}}/delete", status_code=200)
async def delete_record(request: Request[Any, Any, Any]) -> Response[Any]:
    async def delete(admin: Admin) -> Response[Any]:
        name, record_id = request.path_params["collection"], request.path_params["record_id"]
        path = {"collection": name, "record_id": record_id}
        result = await admin.call(records_api.delete_record, path_params=path, method="DELETE")
        if not result.ok:
            return ds_render.notice_response(result.message, error=True)
        return ds_render.respond(ds_render.redirect(f"{table_base(name)}?deleted={record_id}"))

    return await endpoint(request, delete)


@post(f"{API}/{{collection:str}}/{{record_id:str}}/impersonate", status_code=200)
async def impersonate(request: Request[Any, Any, Any]) -> Response[Any]:
    async def act(admin: Admin) -> Response[Any]:
        name, record_id = request.path_params["collection"], request.path_params["record_id"]
        body = await forms.read_form(admin.request)
        duration = forms.as_int(body.get("duration"), 0)
        path = {"collection": name, "record_id": record_id}
        result = await admin.call(
            record_auth.impersonate, path_params=path, body={"duration": duration}, method="POST"
        )
        errors = forms.errors_of(result)
        token = str(result.data.get("token") or "") if result.ok and isinstance(result.data, dict) else ""
        context = {
            "api": f"{API}/{name}",
            "record_id": record_id,
            "token": token,
            "errors": errors.fields,
            "error": errors.message if not result.ok else "",
            "duration": str(body.get("duration") or "0"),
        }
        return ds_render.respond(fragment(admin, IMPERSONATE, **context))

    return await endpoint(request, act)


@post(f"{API}/{{collection:str}}/{{record_id:str}}/send-verification", status_code=200)
async def send_verification(request: Request[Any, Any, Any]) -> Response[Any]:
    return await endpoint(
        request, lambda admin: _send(admin, request, verification_api.request_verification, "verification")
    )


@post(f"{API}/{{collection:str}}/{{record_id:str}}/send-password-reset", status_code=200)
async def send_password_reset(request: Request[Any, Any, Any]) -> Response[Any]:
    return await endpoint(
        request, lambda admin: _send(admin, request, reset_api.request_password_reset, "password reset")
    )


async def _send(admin: Admin, request: Request[Any, Any, Any], handler: Any, what: str) -> Response[Any]:
    name, record_id = request.path_params["collection"], request.path_params["record_id"]
    record = await _record(admin, name, record_id)
    email = str(record.get("email") or "")
    result = await admin.call(handler, path_params={"collection": name}, body={"email": email}, method="POST")
    if not result.ok:
        return ds_render.notice_response(result.message, error=True)
    # PocketBase's dashboard words (ui/src/records/recordUpsertModal.js)
    return ds_render.notice_response(f"Successfully sent {what} email to {email}.")


routes = [
    new_record_page,
    edit_record_page,
    create_record,
    update_record,
    relation_search,
    relation_pick,
    delete_record,
    impersonate,
    send_verification,
    send_password_reset,
]

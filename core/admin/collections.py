"""Collections: list with search, the editor (fields, rules, indexes, view query, auth options),
truncate and delete (GET /_/collections..., /_/api/collections/...).

Every read and write is a call of the REST API's collection handlers (core/api/collections.py),
so the store's validation applies and its messages show next to the inputs. The editor is one
form (core/admin/collections_draft.py names its inputs by JSON path); its buttons post the
whole form to `/_/api/collections/editor?op=...`, which answers with the editor re-rendered,
and nothing is saved before "Save". The checks run by the editor (rule syntax, view preview,
mail preview) are in collections_checks.py; import/export in collections_sync.py.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response, get, post

from core.admin import collections_checks as checks
from core.admin import collections_draft as drafts
from core.admin import forms
from core.admin.screen import endpoint, fragment, page, render_page
from core.admin.session import Admin
from core.admin.table import Paging, table_query
from core.api import collections as api
from core.errors import ApiError
from core.store.schema import FIELD_TYPES
from core.ui import render as ds_render
from core.ui.bridge import Result

BASE = "/_/collections"
TABLE = "admin/collections/table.html"
EDITOR = "admin/collections/editor.html"
MAX_COLLECTIONS = "500"  # PocketBase's perPage cap: a relation's target list in one call


def _search_query(admin: Admin) -> dict[str, str]:
    query = table_query(admin.request, sort="name")
    words = re.sub(r"[\"'\\]", "", admin.request.query_params.get("q", "")).strip()
    if words:
        query["filter"] = f'name~"{words}"'
    return query


async def _paging(admin: Admin) -> Paging:
    query = _search_query(admin)
    result = await admin.call(api.list_collections, query=query, method="GET")
    if not result.ok:
        raise ApiError(result.status, result.message)
    return Paging.of(result.data, query)


@get(BASE)
async def collections_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        paging = await _paging(admin)
        q = admin.request.query_params.get("q", "")
        text = "Collection deleted." if admin.request.query_params.get("deleted") else ""
        return render_page(
            admin,
            "admin/collections/list.html",
            title="Collections",
            active="collections",
            paging=paging,
            q=q,
            text=text,
        )

    return await page(request, build)


@get("/_/api/collections/table")
async def collections_table(request: Request[Any, Any, Any]) -> Response[Any]:
    async def table(admin: Admin) -> Response[Any]:
        return ds_render.respond(fragment(admin, TABLE, paging=await _paging(admin)))

    return await endpoint(request, table)


async def all_collections(admin: Admin) -> list[dict[str, Any]]:
    result = await admin.call(
        api.list_collections, query={"perPage": MAX_COLLECTIONS, "sort": "name"}, method="GET"
    )
    if not result.ok:
        raise ApiError(result.status, result.message)
    return [c for c in result.data.get("items") or [] if isinstance(c, dict)]


async def _editor_context(admin: Admin, draft: dict[str, Any], **extra: Any) -> dict[str, Any]:
    others = await all_collections(admin)
    context: dict[str, Any] = {
        "draft": draft,
        "is_new": not draft.get("created"),
        "collections": others,
        "field_types": FIELD_TYPES,
        "options_of": drafts.options_of,
        "display": drafts.display,
        "get": drafts.get,
        "rule_names": checks.rule_names(draft),
        "templates": drafts.TEMPLATES,
        "token_keys": [k for k in drafts.AUTH_NUMBERS if k.endswith("Token.duration")],
        "mapped_fields": drafts.MAPPED_FIELDS,
        "errors": {},
        "error": "",
        "rule_checks": None,
        "view_preview": None,
        "mail_preview": None,
        "confirm_changes": [],
        "providers": sorted(_provider_names()),
    }
    context.update(extra)
    return context


def _provider_names() -> list[str]:
    from core.auth.oauth2 import PROVIDERS

    return list(PROVIDERS)


async def _new_draft(admin: Admin, col_type: str) -> dict[str, Any]:
    result = await admin.call(api.scaffolds, method="GET")
    if not result.ok:
        raise ApiError(result.status, result.message)
    scaffold = dict(result.data.get(col_type) or result.data["base"])
    scaffold.pop("id", None)
    # the store adds an auth collection's own unique indexes on create, named for its table
    scaffold["indexes"] = []
    return scaffold


@get(f"{BASE}/new")
async def new_collection_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        col_type = request.query_params.get("type", "base")
        draft = await _new_draft(admin, col_type if col_type in ("base", "auth", "view") else "base")
        context = await _editor_context(admin, draft)
        return render_page(
            admin, "admin/collections/edit.html", title="New collection", active="collections", **context
        )

    return await page(request, build)


@get(BASE + "/{collection:str}")
async def edit_collection_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        name = request.path_params["collection"]
        result = await admin.call(api.view_collection, path_params={"collection": name}, method="GET")
        if not result.ok:
            raise ApiError(result.status, result.message)
        context = await _editor_context(admin, result.data)
        title = f"Collection {result.data.get('name', '')}"
        if request.query_params.get("saved"):  # the redirect after creating it
            context["text"] = f"Collection {result.data.get('name', '')} saved."
        return render_page(admin, "admin/collections/edit.html", title=title, active="collections", **context)

    return await page(request, build)


async def _editor(admin: Admin, draft: dict[str, Any], **extra: Any) -> Any:
    return fragment(admin, EDITOR, **(await _editor_context(admin, draft, **extra)))


@post("/_/api/collections/editor", status_code=200)
async def editor_op(request: Request[Any, Any, Any]) -> Response[Any]:
    """A button of the editor: change the draft (or check it) and render it again, unsaved."""

    async def handle(admin: Admin) -> Response[Any]:
        form = await forms.read_form(admin.request)
        draft = drafts.parse(form)
        q = admin.request.query_params
        op = q.get("op", "")
        index = _int(q.get("i"))
        extra: dict[str, Any] = {}
        if op == "move":
            drafts.move_to(draft.get("fields") or [], index, _int(q.get("to")))
        elif op == "check-rules":
            extra["rule_checks"] = checks.check_rules(admin.app, draft)
        elif op == "preview-view":
            fields, error = await checks.preview_view(admin.app, str(draft.get("viewQuery") or ""))
            extra["view_preview"] = {"fields": fields, "error": error}
        elif op == "preview-mail":
            which = q.get("which", "")
            subject, html = checks.preview_template(
                admin.app, drafts.get(draft, which, {}), {"email": "test@example.com"}
            )
            extra["mail_preview"] = {"which": which, "subject": subject, "html": html}
        else:
            message = drafts.apply_op(draft, op, index, form)
            if message:
                extra["error"] = message
        return ds_render.respond(await _editor(admin, _keep_meta(draft, form), **extra))

    return await endpoint(request, handle)


def _keep_meta(draft: dict[str, Any], form: dict[str, Any]) -> dict[str, Any]:
    # `created` tells the editor the collection exists (saved collections have one)
    if form.get("created"):
        draft["created"] = str(form["created"])
    return draft


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return -1


@post("/_/api/collections/save", status_code=200)
async def save_collection(request: Request[Any, Any, Any]) -> Response[Any]:
    async def save(admin: Admin) -> Response[Any]:
        form = await forms.read_form(admin.request)
        draft = _keep_meta(drafts.parse(form), form)
        drafts.retarget_indexes(draft)
        body = {k: v for k, v in draft.items() if k != "created"}
        if draft.get("created"):
            path = {"collection": str(draft.get("id") or "")}
            if not admin.request.query_params.get("confirmed"):
                stored = await admin.call(api.view_collection, path_params=path, method="GET")
                risky = checks.risky_changes(stored.data, body) if stored.ok else []
                if risky:
                    return ds_render.respond(await _editor(admin, draft, confirm_changes=risky))
            result = await admin.call(api.update_collection, path_params=path, body=body, method="PATCH")
        else:
            body.pop("id", None)
            result = await admin.call(api.create_collection, body=body, method="POST")
        if not result.ok:
            return ds_render.respond(await _failed(admin, draft, result, form))
        saved = result.data
        if not draft.get("created"):
            return ds_render.respond(ds_render.redirect(f"{BASE}/{saved['id']}?saved=1"))
        return ds_render.respond(
            await _editor(admin, saved), ds_render.notice(f"Collection {saved['name']} saved.")
        )

    return await endpoint(request, save)


async def _failed(admin: Admin, draft: dict[str, Any], result: Result, form: dict[str, Any]) -> Any:
    # inputs the editor shows, plus the places it prints list-wide errors
    shown = set(form) | {"name", "type", "fields", "indexes", "viewQuery"}
    errors = forms.errors_of(result, shown)
    return await _editor(admin, draft, errors=errors.fields, error=errors.message)


async def _drop(request: Request[Any, Any, Any], handler: Any, done: Any) -> Response[Any]:
    """Truncate or delete the collection of the URL (the page asked for a confirmation first)."""

    async def run(admin: Admin) -> Response[Any]:
        path = {"collection": request.path_params["collection"]}
        result = await admin.call(handler, path_params=path, method="DELETE")
        if not result.ok:
            return ds_render.notice_response(result.message, error=True)
        return ds_render.respond(done)

    return await endpoint(request, run)


@post("/_/api/collections/{collection:str}/truncate", status_code=200)
async def truncate_collection(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _drop(request, api.truncate_collection, ds_render.notice("All records deleted."))


@post("/_/api/collections/{collection:str}/delete", status_code=200)
async def delete_collection(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _drop(request, api.delete_collection, ds_render.redirect(f"{BASE}?deleted=1"))


routes = [
    collections_page,
    collections_table,
    new_collection_page,
    edit_collection_page,
    editor_op,
    save_collection,
    truncate_collection,
    delete_collection,
]

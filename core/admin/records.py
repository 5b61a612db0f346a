"""Records: a table per collection (GET /_/records/{collection}) and its endpoints.

The table pages, filters (PocketBase's filter syntax; the API's error is shown under the
input) and sorts on the server through the records list handler of the REST API, as the
superuser; a column header click sorts, the pager pages, and the columns shown are the
browser's own choice (signals kept in localStorage). Bulk delete runs the API's delete per
record, as PocketBase's dashboard does (recordsList.js). An open table reloads itself when its collection
changes (records_live). The record form is records_form.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, get, post

from core.admin import records_live
from core.admin import records_values as values
from core.admin.screen import endpoint, fragment, page, render_page
from core.admin.session import Admin
from core.admin.table import Paging, table_query
from core.api import collections as collections_api
from core.api import files as files_api
from core.api import records as records_api
from core.errors import ApiError
from core.ui import render as ds_render

BASE = "/_/records"
API = "/_/api/records"
TABLE = "admin/records/table.html"
# PocketBase's dashboard (ui/src/records/recordsList.js): 40 a page, the newest first (a view
# has no rowid order to fall back on: no sort)
SORT = "-@rowid"
PER_PAGE = 40


def table_base(name: str) -> str:
    return f"{BASE}/{name}"


def table_endpoint(name: str) -> str:
    return f"{API}/{name}/table"


async def collection_of(admin: Admin, name: str) -> dict[str, Any]:
    """The collection's JSON through the collections API (404 when there is none)."""
    result = await admin.call(collections_api.view_collection, path_params={"collection": name}, method="GET")
    if not result.ok or not isinstance(result.data, dict):
        raise ApiError(result.status if not result.ok else 404, result.message or None)
    return result.data


async def collection_names(admin: Admin) -> list[dict[str, Any]]:
    """Every collection for the picker: the app's own first, then the system ones."""
    query = {"perPage": "500", "sort": "name", "fields": "id,name,type,system"}
    result = await admin.call(collections_api.list_collections, query=query, method="GET")
    items = result.data.get("items") if result.ok and isinstance(result.data, dict) else []
    cols = [c for c in items or [] if isinstance(c, dict)]
    return sorted(cols, key=lambda c: (bool(c.get("system")), str(c.get("name"))))


async def file_token(admin: Admin, collection: dict[str, Any]) -> str:
    """A file token for the previews of protected files (empty when no field needs one)."""
    if not any(f.get("type") == "file" and f.get("protected") for f in collection.get("fields") or []):
        return ""
    result = await admin.call(files_api.file_token, method="POST")
    return str(result.data.get("token") or "") if result.ok and isinstance(result.data, dict) else ""


def column_signals(collection_id: str, columns: list[dict[str, Any]]) -> str:
    """`{cols: {<collection id>: {<field>: true}}}`: every column shown until the browser
    says otherwise."""
    return json.dumps({"cols": {collection_id: {str(c["name"]): True for c in columns}}})


def hide_classes(collection_id: str, columns: list[dict[str, Any]]) -> str:
    """The table's `data-class`: `hide-N` hides column N (the row's checkbox is column 1)."""
    pairs = [f"'hide-{i}': !$cols.{collection_id}.{c['name']}" for i, c in enumerate(columns, start=2)]
    return "{" + ", ".join(pairs) + "}"


@get(BASE)
async def records_home(request: Request[Any, Any, Any]) -> Response[Any]:
    """The first collection's table (or a word on how to make one)."""

    async def build(admin: Admin) -> Response[Any]:
        cols = await collection_names(admin)
        if cols:
            first = table_base(str(cols[0]["name"]))
            return Response(b"", status_code=303, headers={"Location": first})
        return render_page(admin, "admin/records/empty.html", title="Records", active="records")

    return await page(request, build)


async def _table_context(admin: Admin, collection: dict[str, Any]) -> dict[str, Any]:
    query = table_query(
        admin.request, sort=SORT if collection.get("type") != "view" else "", per_page=PER_PAGE
    )
    name = str(collection["name"])
    # relations show their records' names, as the list's `expand` gives them
    relations = [str(f["name"]) for f in collection.get("fields") or [] if f.get("type") == "relation"]
    api_query = {**query, "expand": ",".join(relations)} if relations else query
    path = {"collection": name}
    result = await admin.call(records_api.list_records, path_params=path, query=api_query, method="GET")
    error = "" if result.ok else (result.message or "Invalid filter.")
    paging = Paging.of(result.data if result.ok else {}, query)
    columns = values.table_columns(collection)
    return {
        "collection": collection,
        "columns": columns,
        "hide_classes": hide_classes(str(collection["id"]), columns),
        "paging": paging,
        "filter_error": error,
        "base": table_base(name),
        "endpoint": table_endpoint(name),
        "api": f"{API}/{name}",
        "file_token": await file_token(admin, collection),
        "v": values,
    }


@get(f"{BASE}/{{collection:str}}")
async def records_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        collection = await collection_of(admin, request.path_params["collection"])
        context = await _table_context(admin, collection)
        # what the record form did before it came back here (ids only: nothing else is echoed)
        saved, deleted = request.query_params.get("saved", ""), request.query_params.get("deleted", "")
        return render_page(
            admin,
            "admin/records/list.html",
            title=str(collection["name"]),
            active="records",
            collections=await collection_names(admin),
            saved=saved if saved.isalnum() else "",
            deleted=deleted if deleted.isalnum() else "",
            cols_signals=column_signals(str(collection["id"]), context["columns"]),
            **context,
        )

    return await page(request, build)


@get(f"{API}/{{collection:str}}/table")
async def records_table(request: Request[Any, Any, Any]) -> Response[Any]:
    async def table(admin: Admin) -> Response[Any]:
        collection = await collection_of(admin, request.path_params["collection"])
        return ds_render.respond(fragment(admin, TABLE, **await _table_context(admin, collection)))

    return await endpoint(request, table)


@get(f"{API}/{{collection:str}}/live")
async def records_live_stream(request: Request[Any, Any, Any]) -> Response[Any]:
    """The open table's stream: a reload whenever its collection changes."""

    async def live(admin: Admin) -> Response[Any]:
        collection = await collection_of(admin, request.path_params["collection"])
        ip = request.client.host if request.client else ""
        table_watch = records_live.watch(admin.app, str(collection["name"]), admin.auth, ip)
        return ds_render.DatastarResponse(records_live.stream(table_watch, admin.app))

    return await endpoint(request, live)


@post(f"{API}/{{collection:str}}/delete", status_code=200)
async def bulk_delete(request: Request[Any, Any, Any]) -> Response[Any]:
    async def delete(admin: Admin) -> Response[Any]:
        collection = await collection_of(admin, request.path_params["collection"])
        name = str(collection["name"])
        posted = (await posted_form(admin)).get("ids", [])
        ids = list(dict.fromkeys(str(i) for i in posted if str(i)))
        failed: list[str] = []
        for record_id in ids:
            path = {"collection": name, "record_id": record_id}
            result = await admin.call(records_api.delete_record, path_params=path, method="DELETE")
            if not result.ok:
                failed.append(f"{record_id}: {result.message}")
        deleted = len(ids) - len(failed)
        text = f"Successfully deleted {deleted} {'record' if deleted == 1 else 'records'}."
        if failed:
            text += " Not deleted: " + "; ".join(failed)
        table = fragment(admin, TABLE, **await _table_context(admin, collection))
        return ds_render.respond(table, ds_render.notice(text, error=bool(failed)))

    return await endpoint(request, delete)


async def posted_form(admin: Admin) -> dict[str, list[Any]]:
    """The posted form with every value of every input (multipart keeps files and repeats)."""
    try:
        form = await admin.request.form()
    except Exception:  # noqa: BLE001 - an unreadable body is an empty form
        return {}
    out: dict[str, list[Any]] = {}
    for key, value in form.multi_items():
        out.setdefault(key, []).append(value)
    return out


routes = [records_home, records_page, records_table, records_live_stream, bulk_delete]

"""Export and import of the collections JSON (GET /_/collections/export, /_/collections/import).

Export shows what GET /api/collections answers (secrets are never in it) without the
timestamps, as PocketBase's export does, with a download link. Import first shows a diff of the
pasted JSON against the current collections (created, changed field by field, deleted), and
applies nothing until "Apply import", which is PUT /api/collections/import.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post

from core.admin import forms
from core.admin.collections import all_collections
from core.admin.screen import endpoint, fragment, page, render_page
from core.admin.session import Admin
from core.api import collections as api
from core.store.fields.file import UploadedFile
from core.ui import render as ds_render

REVIEW = "admin/collections/import_review.html"
IGNORED = ("created", "updated")  # differ on every copy of a schema


def exported(collections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k not in IGNORED} for c in collections]


@get("/_/collections/export")
async def export_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        text = json.dumps(exported(await all_collections(admin)), indent=4)
        href = "data:application/json;charset=utf-8," + quote(text)
        return render_page(
            admin,
            "admin/collections/export.html",
            title="Export collections",
            active="collections",
            text=text,
            href=href,
        )

    return await page(request, build)


@get("/_/collections/import")
async def import_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        return render_page(
            admin,
            "admin/collections/import.html",
            title="Import collections",
            active="collections",
            text="",
            delete_missing=False,
            diff=None,
            errors={},
            error="",
        )

    return await page(request, build)


@dataclass
class Change:
    """One collection of the import and what it does to the current schema."""

    name: str
    kind: str  # "create", "update", "delete"
    details: list[str] = field(default_factory=list)


def diff(current: list[dict[str, Any]], incoming: list[dict[str, Any]], delete_missing: bool) -> list[Change]:
    """What importing `incoming` changes: matched by id, then by name, as PocketBase matches."""
    by_id = {c.get("id"): c for c in current}
    by_name = {str(c.get("name", "")).lower(): c for c in current}
    matched: set[Any] = set()
    out: list[Change] = []
    for new in incoming:
        old = by_id.get(new.get("id")) or by_name.get(str(new.get("name", "")).lower())
        if old is None:
            out.append(
                Change(
                    str(new.get("name", "")),
                    "create",
                    [f"+ field {f.get('name')}" for f in new.get("fields") or []],
                )
            )
            continue
        matched.add(old.get("id"))
        details = _changes(old, new)
        if details:
            out.append(Change(str(new.get("name", "")), "update", details))
    if delete_missing:
        out += [Change(str(c.get("name")), "delete") for c in current if c.get("id") not in matched]
    return out


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        if key in (*IGNORED, "fields", "id") or key not in new:
            continue
        if old.get(key) != new.get(key):
            out.append(f"~ {key}: {json.dumps(old.get(key))} → {json.dumps(new.get(key))}")
    old_fields = {f.get("id") or f.get("name"): f for f in old.get("fields") or []}
    new_fields = {f.get("id") or f.get("name"): f for f in new.get("fields") or []}
    for key, f in new_fields.items():
        before = old_fields.get(key)
        if before is None:
            out.append(f"+ field {f.get('name')} ({f.get('type')})")
        elif before != {**before, **f}:
            changed = sorted(k for k in f if before.get(k) != f.get(k))
            out.append(f"~ field {f.get('name')}: {', '.join(changed)}")
    out += [f"- field {f.get('name')}" for key, f in old_fields.items() if key not in new_fields]
    return out


MAX_FILE = 16 << 20  # a schema file larger than this is not a schema


def _schema_text(form: dict[str, Any]) -> str:
    """The JSON of a chosen file, else the pasted text."""
    files = form.get("file")
    chosen = [f for f in files if isinstance(f, UploadedFile) and f.size] if isinstance(files, list) else []
    if chosen:
        return chosen[0].head(MAX_FILE).decode("utf-8", errors="replace")
    return str(form.get("collections") or "")


def _incoming(text: str) -> tuple[list[dict[str, Any]] | None, str]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"Invalid JSON: {exc}"
    if not isinstance(data, list) or not all(isinstance(c, dict) for c in data):
        return None, "The JSON must be an array of collections."
    return data, ""


async def _review_fragment(admin: Admin, **extra: Any) -> Any:
    context: dict[str, Any] = {"diff": None, "errors": {}, "error": "", **extra}
    return fragment(admin, REVIEW, **context)


async def _with_incoming(
    request: Request[Any, Any, Any], then: Callable[[Admin, list[dict[str, Any]], bool], Awaitable[Any]]
) -> Response[Any]:
    """Read the pasted JSON (its error shows under the textarea) and go on with `then`."""

    async def run(admin: Admin) -> Response[Any]:
        form = await forms.read_form(admin.request)
        incoming, error = _incoming(_schema_text(form))
        if incoming is None:
            return ds_render.respond(await _review_fragment(admin, errors={"collections": error}))
        return ds_render.respond(*(await then(admin, incoming, forms.as_bool(form.get("deleteMissing")))))

    return await endpoint(request, run)


@post("/_/api/collections/import/review", status_code=200)
async def review_import(request: Request[Any, Any, Any]) -> Response[Any]:
    async def review(admin: Admin, incoming: list[dict[str, Any]], delete_missing: bool) -> list[Any]:
        changes = diff(await all_collections(admin), incoming, delete_missing)
        return [await _review_fragment(admin, diff=changes)]

    return await _with_incoming(request, review)


@post("/_/api/collections/import", status_code=200)
async def apply_import(request: Request[Any, Any, Any]) -> Response[Any]:
    async def apply(admin: Admin, incoming: list[dict[str, Any]], delete_missing: bool) -> list[Any]:
        body = {"collections": incoming, "deleteMissing": delete_missing}
        result = await admin.call(api.import_collections, body=body, method="PUT")
        if not result.ok:
            return [await _review_fragment(admin, error=forms.errors_of(result, ()).message)]
        return [await _review_fragment(admin), ds_render.notice(f"Imported {len(incoming)} collections.")]

    return await _with_incoming(request, apply)


routes = [export_page, import_page, review_import, apply_import]

"""Record form values: a posted record form to the body PocketBase's record API takes, and a
record's values to what the form's inputs show. Pure functions over a collection's JSON.

A record form is posted as multipart (it may carry files). Inputs are named after the fields;
what a browser form cannot say is spelled here: an unchecked box is a `false` bool, a
datetime-local input (which has no zone; the dashboard shows UTC) becomes PocketBase's
`2006-01-02 15:04:05.000Z`, a multi-valued select or relation posts one value per item (none
at all: an empty list), a JSON field is parsed text. The typed values travel as `@jsonPayload`
beside the uploaded files, so the API validates them exactly as a JSON request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# fields the form never posts: the server owns them (autodate), or they are never readable
NOT_EDITABLE = ("autodate",)
HIDDEN_ALWAYS = ("password", "tokenKey")
JSON_INVALID = "Invalid JSON value."
# the new record's id input: an input named "id" would shadow the form element's id in the DOM
ID_INPUT = "@id"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")


def is_multi(f: Mapping[str, Any]) -> bool:
    return f.get("type") in ("select", "file", "relation") and int(f.get("maxSelect") or 0) > 1


def editable_fields(collection: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fields the form edits, in the collection's order (id only for a new record)."""
    out = []
    for f in collection.get("fields") or []:
        if f.get("type") in NOT_EDITABLE or f.get("name") in HIDDEN_ALWAYS:
            continue
        out.append(f)
    return out


def table_columns(collection: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fields a records table can show."""
    return [f for f in collection.get("fields") or [] if f.get("name") not in HIDDEN_ALWAYS]


@dataclass
class Posted:
    """A record form, read: the JSON body, the files to upload, and the inputs whose text
    could not be read (shown next to the input without calling the API)."""

    body: dict[str, Any] = field(default_factory=dict)
    files: list[tuple[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def read_record_form(
    collection: Mapping[str, Any], form: Mapping[str, list[Any]], *, creating: bool
) -> Posted:
    """`form` maps each input name to all its posted values (multipart keeps repeats)."""
    out = Posted()
    for f in editable_fields(collection):
        name = str(f.get("name") or "")
        kind = f.get("type")
        values = [v for v in form.get(ID_INPUT if name == "id" else name, []) if not _is_upload(v)]
        if name == "id":
            if creating and values and str(values[0]).strip():
                out.body["id"] = str(values[0]).strip()
            continue
        if kind == "file":
            _read_files(out, f, form)
            continue
        if kind == "bool":
            out.body[name] = any(str(v).lower() in ("true", "on", "1") for v in values)
        elif kind in ("select", "relation") and is_multi(f):
            out.body[name] = [str(v) for v in values if str(v)]
        elif kind == "json":
            text = str(values[0]) if values else ""
            try:
                out.body[name] = json.loads(text) if text.strip() else None
            except ValueError:
                # never sent (an error stops the call): kept so the form shows what was typed
                out.body[name] = text
                out.errors[name] = JSON_INVALID
        elif kind == "number":
            out.body[name] = _number(str(values[0]) if values else "")
        elif kind == "date":
            out.body[name] = from_local_input(str(values[0]) if values else "")
        elif kind == "geoPoint":
            out.body[name] = {
                "lon": _number(_first(form, f"{name}.lon")),
                "lat": _number(_first(form, f"{name}.lat")),
            }
        else:
            out.body[name] = str(values[0]) if values else ""
    if collection.get("type") == "auth":
        password = _first(form, "password")
        if password or creating:
            out.body["password"] = password
            out.body["passwordConfirm"] = _first(form, "passwordConfirm")
    return out


def _read_files(out: Posted, f: Mapping[str, Any], form: Mapping[str, list[Any]]) -> None:
    name = str(f.get("name") or "")
    uploads = [v for v in form.get(name, []) if _is_upload(v) and v.filename]
    removed = [str(v) for v in form.get(f"{name}-", []) if str(v)]
    if removed:
        out.body[f"{name}-"] = removed
    # a multi-valued field keeps its files and gets the new ones (`field+`); a single file
    # field is replaced by its upload
    key = f"{name}+" if is_multi(f) else name
    out.files.extend((key, upload) for upload in uploads)


def _is_upload(value: Any) -> bool:
    return hasattr(value, "filename") and hasattr(value, "read")


def _first(form: Mapping[str, list[Any]], name: str) -> str:
    values = form.get(name) or []
    return str(values[0]) if values else ""


def _number(text: str) -> Any:
    """A number input's text: empty is 0 (PocketBase's zero value); what is not a number goes
    as typed, so PocketBase says what is wrong with it."""
    text = text.strip()
    if not text:
        return 0
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def from_local_input(text: str) -> str:
    """`2024-05-01T10:30:15` (a datetime-local input, UTC) -> `2024-05-01 10:30:15.000Z`."""
    text = text.strip()
    if not text:
        return ""
    date, _, time = text.partition("T")
    if not time:
        return date  # PocketBase parses what it can and says what it cannot
    if time.count(":") == 1:
        time += ":00"
    return f"{date} {time[:8]}.000Z"


def to_local_input(value: Any) -> str:
    """`2024-05-01 10:30:15.123Z` -> `2024-05-01T10:30:15` for a datetime-local input."""
    text = str(value or "")
    if len(text) < 19:
        return ""
    return f"{text[:10]}T{text[11:19]}"


def as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)]


LABEL_KEYS = ("name", "title", "email", "username", "label")


def record_label(record: Mapping[str, Any], presentable: Iterable[str] = ()) -> str:
    """How a related record is shown: its presentable fields (as the collection marks them),
    else a name-like field, beside its id."""
    shown = [str(record[k]) for k in presentable if record.get(k) not in (None, "", [])]
    if not shown:
        shown = [str(record[k]) for k in LABEL_KEYS if record.get(k)][:1]
    rid = str(record.get("id", ""))
    return f"{', '.join(shown)} ({rid})" if shown else rid


def relation_labels(row: Mapping[str, Any], name: str) -> list[str]:
    """The labels of a relation cell, from the list's `expand` (the ids where it has none)."""
    expanded = (row.get("expand") or {}).get(name)
    records = expanded if isinstance(expanded, list) else [expanded] if isinstance(expanded, dict) else []
    if records:
        return [record_label(r) for r in records if isinstance(r, Mapping)]
    return as_list(row.get(name))


def json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def cell_text(f: Mapping[str, Any], value: Any, limit: int = 60) -> str:
    """A value as one short line of a table cell."""
    kind = f.get("type")
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "json":
        text = json.dumps(value, ensure_ascii=False) if value is not None else ""
    elif isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = "" if value is None else str(value)
    if kind == "editor":
        text = _strip_tags(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _strip_tags(html: str) -> str:
    out, inside = [], False
    for ch in html:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
        elif not inside:
            out.append(ch)
    return "".join(out)

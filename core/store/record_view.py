"""Turning stored rows into PocketBase's record JSON: visibility, `fields` projection, excerpts."""

from __future__ import annotations

import html
import re
from typing import Any

import apsw

from core.errors import ApiError
from core.store.codec import codec_of
from core.store.request import RequestContext
from core.store.schema import Collection


def fetch_dicts(conn: apsw.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """Rows as dicts. The column names are read while the statement runs: APSW forgets them after."""
    cur = conn.execute(sql, params)
    try:
        names = [d[0] for d in cur.getdescription()]
    except apsw.ExecutionCompleteError:  # no row: the statement already finished
        return []
    return [dict(zip(names, row, strict=False)) for row in cur]


def normalized(col: Collection, raw: dict[str, Any]) -> dict[str, Any]:
    """Every field's API value (hidden ones included), for validation and hooks."""
    get = raw.get
    return {name: read(get(name)) for name, read in codec_of(col).all_readers}


def serialize(
    col: Collection,
    raw: dict[str, Any],
    req: RequestContext,
    *,
    manage_ids: set[str] | None = None,
) -> dict[str, Any]:
    su = req.is_superuser
    codec = codec_of(col)
    out: dict[str, Any] = {"collectionId": col.id, "collectionName": col.name}
    get = raw.get
    for name, read in codec.readers if su else codec.public_readers:  # every read's per-record loop
        out[name] = read(get(name))
    if col.is_auth and "email" in out and not su:
        owner = req.auth is not None and req.auth.collection.id == col.id and req.auth.id == raw.get("id")
        visible = (
            bool(raw.get("emailVisibility"))
            or owner
            or (manage_ids is not None and raw.get("id") in manage_ids)
        )
        if not visible:
            del out["email"]
    return out


# -- ?fields= ---------------------------------------------------------------------------------

EXCERPT_RE = re.compile(r"^(.+?):excerpt\(\s*(\d+)\s*(?:,\s*(true|false|1|0|t|f)\s*)?\)$", re.IGNORECASE)
TAG_RE = re.compile(r"<[^>]*>")
SPACE_RE = re.compile(r"\s+")


class FieldsSpec:
    """A parsed `fields` parameter: a tree of keys, with excerpt modifiers on leaves."""

    def __init__(self) -> None:
        self.children: dict[str, FieldsSpec] = {}
        self.excerpt: tuple[int, bool] | None = None
        self.leaf = False

    @classmethod
    def parse(cls, raw: str) -> FieldsSpec | None:
        raw = raw.strip()
        if not raw:
            return None
        root = cls()
        for part in _split_top_level(raw):
            part = part.strip()
            if not part:
                continue
            excerpt = None
            m = EXCERPT_RE.match(part)
            if m:
                part = m.group(1)
                excerpt = (int(m.group(2)), (m.group(3) or "false").lower() in ("true", "1", "t"))
            elif ":" in part:
                raise ApiError(400, "Invalid fields parameter.")
            node = root
            for key in part.split("."):
                if not key:
                    raise ApiError(400, "Invalid fields parameter.")
                node = node.children.setdefault(key, cls())
            node.leaf = True
            node.excerpt = excerpt
        return root

    def apply(self, obj: Any) -> Any:
        if not isinstance(obj, dict):
            return obj
        if self.leaf and not self.children:
            return obj
        out: dict[str, Any] = {}
        star = self.children.get("*")
        if star is not None:
            for k, v in obj.items():
                out[k] = _excerpt(v, star.excerpt) if star.excerpt else v
        for key, child in self.children.items():
            if key == "*" or key not in obj:
                continue
            value = obj[key]
            if child.excerpt:
                out[key] = _excerpt(value, child.excerpt)
            elif child.children:
                out[key] = [child.apply(v) for v in value] if isinstance(value, list) else child.apply(value)
            else:
                out[key] = value
        return out


def _split_top_level(raw: str) -> list[str]:
    """Split on commas outside parentheses: `a,b:excerpt(10,true)` is two parts."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(raw):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            parts.append(raw[start:i])
            start = i + 1
    parts.append(raw[start:])
    return parts


def _excerpt(value: Any, spec: tuple[int, bool]) -> Any:
    if not isinstance(value, str):
        return value
    length, ellipsis = spec
    text = SPACE_RE.sub(" ", html.unescape(TAG_RE.sub(" ", value))).strip()
    if len(text) <= length:
        return text
    text = text[:length].rstrip()
    return text + "..." if ellipsis else text

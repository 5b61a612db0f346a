"""Server-side paging for the dashboard's tables (records, logs, superusers, ...).

A table's state lives in its URL (`?page=2&perPage=30&filter=...&sort=-created`), so a table
is linkable and reloads where it was; the list itself comes from the REST API's own list
handler (PocketBase's `{page, perPage, totalItems, totalPages, items}`), which pages, filters
and sorts in SQL. The `pager` macro of admin/_table.html renders the links; they load the next
page through Datastar (`@get` into the table's element) and work as plain links without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import Request

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 500  # PocketBase's own cap of perPage
STATE = ("page", "perPage", "filter", "sort")


def table_query(
    request: Request[Any, Any, Any], *, sort: str = "", per_page: int = DEFAULT_PER_PAGE
) -> dict[str, str]:
    """The list query of a table from the request URL: page, perPage, filter and sort."""
    q = request.query_params
    page = _positive(q.get("page"), 1)
    size = min(_positive(q.get("perPage"), per_page), MAX_PER_PAGE)
    out = {"page": str(page), "perPage": str(size)}
    if q.get("filter"):
        out["filter"] = q["filter"]
    if q.get("sort", sort):
        out["sort"] = q.get("sort", sort)
    return out


def _positive(value: str | None, default: int) -> int:
    try:
        n = int(value or "")
    except ValueError:
        return default
    return n if n > 0 else default


@dataclass
class Paging:
    """One page of a PocketBase list answer, and where the other pages are."""

    items: list[dict[str, Any]] = field(default_factory=list)
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    total_items: int = 0
    total_pages: int = 0
    query: dict[str, str] = field(default_factory=dict)
    # the URL parameters that make up the table's state (a screen may add its own, e.g. search)
    state: tuple[str, ...] = STATE

    @classmethod
    def of(cls, data: Any, query: Mapping[str, str], state: tuple[str, ...] = STATE) -> Paging:
        body = data if isinstance(data, dict) else {}
        return cls(
            items=[i for i in body.get("items") or [] if isinstance(i, dict)],
            page=int(body.get("page") or 1),
            per_page=int(body.get("perPage") or DEFAULT_PER_PAGE),
            total_items=max(int(body.get("totalItems") or 0), 0),
            total_pages=max(int(body.get("totalPages") or 0), 0),
            query=dict(query),
            state=state,
        )

    def href(self, base: str, **changes: Any) -> str:
        """`base` with this table's state, some of it changed (`page=3`, `sort="-created"`)."""
        state = {**self.query, **{k: str(v) for k, v in changes.items()}}
        if "sort" in changes or "filter" in changes:
            state["page"] = "1"  # a new order or filter starts at the top
        params = {k: v for k, v in state.items() if k in self.state and v}
        return f"{base}?{urlencode(params)}" if params else base

    def window(self, size: int = 7) -> list[int]:
        """The page numbers the pager shows around the current one."""
        last = max(self.total_pages, 1)
        start = max(1, min(self.page - size // 2, last - size + 1))
        return list(range(start, min(start + size, last + 1)))

    def sort_of(self, column: str) -> str:
        """'asc', 'desc' or '' for a column header's arrow."""
        current = self.query.get("sort", "")
        first = current.split(",")[0].strip()
        if first == column or first == f"+{column}":
            return "asc"
        if first == f"-{column}":
            return "desc"
        return ""

    def toggled_sort(self, column: str) -> str:
        """The sort a click on a column header asks for: ascending, then descending."""
        return f"-{column}" if self.sort_of(column) == "asc" else column


def search_filter(term: str, fields: Iterable[str]) -> str:
    """A search box's text as a filter: kept as is when it already looks like one (has an
    operator), else `field ?~ 'term'` over `fields`, as PocketBase's dashboard does
    (ui/src/utils.js normalizeSearchFilter)."""
    term = term.strip()
    names = list(fields)
    if not term or not names or any(op in term for op in "=~><"):
        return term
    if term[:1] in "\"'`":
        term = term[1:]
    if term[-1:] in "\"'`":
        term = term[:-1]
    quoted = "'" + term.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "||".join(f"{name}?~{quoted}" for name in names)


def all_of(*filters: str) -> str:
    """Filters joined with `&&`, each in its own parentheses; empty ones left out."""
    parts = [f for f in filters if f.strip()]
    return parts[0] if len(parts) == 1 else "&&".join(f"({f})" for f in parts)

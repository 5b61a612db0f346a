"""The paging helper alone, and the pager on a real list (the superusers, paged by one)."""

from __future__ import annotations

import html
from typing import Any

from litestar.testing import AsyncTestClient

from core import superusers
from core.admin.table import Paging
from core.app import App
from tests.admin.test_session import DS, sign_in


def test_links_keep_the_state_and_a_new_order_starts_at_page_one() -> None:
    p = Paging.of(
        {"page": 3, "perPage": 10, "totalItems": 95, "totalPages": 10, "items": []},
        {"page": "3", "perPage": "10", "filter": "a>1", "sort": "-created", "junk": "x"},
    )
    assert p.href("/_/t", page=4) == "/_/t?page=4&perPage=10&filter=a%3E1&sort=-created"
    assert p.href("/_/t", sort="email") == "/_/t?page=1&perPage=10&filter=a%3E1&sort=email"
    assert p.window() == [1, 2, 3, 4, 5, 6, 7] and (p.page, p.total_pages) == (3, 10)
    assert Paging.of({"page": 10, "totalPages": 10}, {}).window() == [4, 5, 6, 7, 8, 9, 10]
    assert (p.sort_of("created"), p.toggled_sort("created")) == ("desc", "created")
    assert (p.sort_of("email"), p.toggled_sort("email")) == ("", "email")
    asc = Paging.of({}, {"sort": "email"})
    assert (asc.sort_of("email"), asc.toggled_sort("email")) == ("asc", "-email")


def test_a_malformed_answer_is_an_empty_page() -> None:
    p = Paging.of(None, {})
    assert (p.items, p.total_items, p.window()) == ([], 0, [1])


async def test_the_pager_walks_a_real_list(client: AsyncTestClient[Any], app: App) -> None:
    superusers.upsert(app.store, "second@example.com", "second-password-1")
    superusers.upsert(app.store, "third@example.com", "third-password-1")
    await sign_in(client)
    first = html.unescape((await client.get("/_/superusers?perPage=1&sort=email")).text)
    assert "admin@example.com" in first and "second@example.com" not in first
    assert "3 items" in first
    assert 'href="/_/superusers?page=2&perPage=1&sort=email"' in first
    # the link's Datastar twin answers with the table's partial, page 2
    second = html.unescape(
        (await client.get("/_/api/superusers/table?page=2&perPage=1&sort=email", headers=DS)).text
    )
    assert "second@example.com" in second and "admin@example.com" not in second
    assert 'id="superusers-table"' in second
    # a click on the column header sorts the other way round
    assert 'href="/_/superusers?page=1&perPage=1&sort=-email"' in first
    last = html.unescape((await client.get("/_/superusers?perPage=1&sort=-email")).text)
    assert "third@example.com" in last

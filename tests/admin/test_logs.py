"""The Logs screen: the chart geometry and the search filter alone; the screen in-process and
in Chromium (search, a bad filter shown inline, the chart, the detail), each fact confirmed
through /api/logs."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from core.admin import chart
from core.admin.table import all_of, search_filter
from tests.admin.conftest import AdminServer, shot, submit
from tests.admin.test_session import DS, sign_in


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("", ""),
        ("level > 0", "level > 0"),
        ("data.status=404", "data.status=404"),
        ("boom", "level?~'boom'||message?~'boom'"),
        ("'quoted'", "level?~'quoted'||message?~'quoted'"),
        ("it's", "level?~'it\\'s'||message?~'it\\'s'"),
    ],
)
def test_search_terms_become_filters(term: str, expected: str) -> None:
    assert search_filter(term, ("level", "message")) == expected


def test_filters_join_in_parentheses() -> None:
    assert all_of("a=1", "", "b=2||c=3") == "(a=1)&&(b=2||c=3)"
    assert all_of("", "a=1") == "a=1"
    assert all_of("", "") == ""


def test_chart_fills_empty_hours_and_scales_to_the_peak() -> None:
    totals = [
        {"date": "2026-01-01 10:00:00.000Z", "total": 4},
        {"date": "2026-01-01 13:00:00.000Z", "total": 2},
    ]
    errors = [{"date": "2026-01-01 13:00:00.000Z", "total": 1}]
    c = chart.build(totals, errors)
    assert [b.hour[-5:] for b in c.bars] == ["10:00", "11:00", "12:00", "13:00"]
    assert [b.total for b in c.bars] == [4, 0, 0, 2] and [b.errors for b in c.bars] == [0, 0, 0, 1]
    assert (c.peak, c.total, c.errors) == (4, 6, 1)
    tallest, _, _, last = c.bars
    assert tallest.total_height == 2 * last.total_height == 4 * last.errors_height
    assert tallest.total_y + tallest.total_height == c.base  # bars stand on the axis
    assert chart.build([], []).bars == []


def test_chart_keeps_the_newest_week() -> None:
    totals = [
        {"date": "2026-01-01 00:00:00.000Z", "total": 1},
        {"date": "2026-03-01 00:00:00.000Z", "total": 1},
    ]
    c = chart.build(totals, [])
    assert len(c.bars) == chart.MAX_BARS and c.bars[-1].hour == "2026-03-01 00:00"


async def test_a_bad_filter_is_shown_under_the_search_box(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    resp = await client.get("/_/api/logs/view", params={"search": "level >"}, headers=DS)
    assert 'id="logs-search-search-error"' in resp.text
    page = await client.get("/_/logs", params={"search": "level >"})
    assert page.status_code == 200 and 'id="logs-search-search-error"' in page.text


def _logs(api: httpx.Client, flt: str) -> dict[str, Any]:
    return dict(api.get("/api/logs", params={"filter": flt, "perPage": 500}).json())


@pytest.mark.slow
def test_logs_screen(admin_page: Any, admin_server: AdminServer) -> None:
    from playwright.sync_api import expect

    api = admin_server.api
    for _ in range(3):
        httpx.get(f"{admin_server.url}/api/collections/nope-logs-probe/records")  # 404s: errors
    httpx.get(f"{admin_server.url}/api/health")
    deadline = time.monotonic() + 20
    probe = "message~'nope-logs-probe'"
    while _logs(api, probe)["totalItems"] < 3:  # the log writer batches
        assert time.monotonic() < deadline, "the requests were never logged"
        time.sleep(0.1)
    page = admin_page
    page.click("#nav-logs")
    expect(page.locator("#logs-chart svg")).to_be_visible()
    expect(page.locator("#logs-chart figcaption")).to_contain_text("error")
    shot(page, "logs")
    page.fill("#logs-search-search", "nope-logs-probe")
    submit(page, "logs-search")
    rows = page.locator("#logs-table tbody tr")
    expect(rows).to_have_count(
        _logs(
            api,
            all_of(
                search_filter("nope-logs-probe", ("level", "message", "data")), "data.auth!='_superusers'"
            ),
        )["totalItems"]
    )
    expect(page).to_have_url(f"{admin_server.url}/_/logs?search=nope-logs-probe")
    # a filter in PocketBase's syntax, then a broken one: the API's message under the box
    page.fill("#logs-search-search", "data.status = 404 && message ~ 'nope-logs-probe'")
    submit(page, "logs-search")
    expect(rows).to_have_count(_logs(api, "data.status = 404 && message ~ 'nope-logs-probe'")["totalItems"])
    page.fill("#logs-search-search", "data.status >")
    submit(page, "logs-search")
    expect(page.locator("#logs-search-search-error")).to_be_visible()
    shot(page, "logs-bad-filter")
    # the detail of one request
    page.fill("#logs-search-search", "nope-logs-probe")
    submit(page, "logs-search")
    rows.first.locator("button").click()
    expect(page.locator("#log-detail")).to_be_visible()
    expect(page.locator("#log-detail-message")).to_contain_text("nope-logs-probe")
    expect(page.locator("#log-detail pre.json")).to_contain_text('"status": 404')
    shot(page, "logs-detail")
    # as PocketBase's apis.Static: the dashboard's pages and static files are not logged when
    # they succeed (its actions, like the sign-in, are); a later request marks the flush
    httpx.get(f"{admin_server.url}/api/health?after-pages=1")
    deadline = time.monotonic() + 20
    while _logs(api, "message~'after-pages'")["totalItems"] < 1:
        assert time.monotonic() < deadline, "the marker request was never logged"
        time.sleep(0.1)
    pages = _logs(api, "message~'GET /_/'")
    assert pages["totalItems"] == 0, [(i["message"], i["data"].get("status")) for i in pages["items"]]
    assert _logs(api, "message~'/ds/static/'")["totalItems"] == 0
    assert _logs(api, "message~'POST /_/api/login'")["totalItems"] >= 1

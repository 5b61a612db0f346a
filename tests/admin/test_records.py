"""The Records screens: in-process checks of the table and the record form, then whole flows in
Chromium against a real `core serve` (each confirmed through the JSON API)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from core.admin import records_values as values
from tests import fixture_data
from tests.admin.conftest import AdminServer, shot, submit
from tests.admin.test_session import DS, sign_in


def _ds(client: AsyncTestClient[Any]) -> dict[str, str]:
    return {**DS, "Origin": str(client.base_url)}


def test_record_form_values_are_typed_per_field() -> None:
    collection = {
        "type": "base",
        "fields": [
            {"name": "id", "type": "text"},
            {"name": "flag", "type": "bool"},
            {"name": "n", "type": "number"},
            {"name": "when", "type": "date"},
            {"name": "tags", "type": "select", "maxSelect": 3},
            {"name": "meta", "type": "json"},
            {"name": "bad", "type": "json"},
            {"name": "created", "type": "autodate"},
        ],
    }
    form = {
        "n": ["2.5"],
        "when": ["2024-05-01T10:30"],
        "meta": ['{"a": 1}'],
        "bad": ["{nope"],
        "created": ["x"],
    }
    posted = values.read_record_form(collection, form, creating=True)
    assert posted.body == {
        "flag": False,
        "n": 2.5,
        "when": "2024-05-01 10:30:00.000Z",
        "tags": [],
        "meta": {"a": 1},
    }
    assert posted.errors == {"bad": values.JSON_INVALID}
    assert values.to_local_input("2024-05-01 10:30:15.123Z") == "2024-05-01T10:30:15"


async def test_table_filters_sorts_and_shows_filter_errors_inline(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    page = await client.get("/_/records/posts")
    assert page.status_code == 200
    assert 'id="records-table"' in page.text and 'id="records-live"' in page.text
    titles = [r["title"] for r in fixture_data.POST_RECORDS]
    assert all(t in page.text for t in titles)
    one = titles[0]
    resp = await client.get("/_/api/records/posts/table", params={"filter": f"title = '{one}'"}, headers=DS)
    assert resp.status_code == 200 and one in resp.text
    assert not any(t in resp.text for t in titles if t != one)
    bad = await client.get("/_/api/records/posts/table", params={"filter": "title ~~ "}, headers=DS)
    assert bad.status_code == 200
    assert 'id="records-filter-filter-error"' in bad.text
    assert "No records found." in bad.text


async def test_record_form_shows_pocketbase_errors_next_to_the_inputs(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    # PocketBase: a required text left empty is "Cannot be blank."; an unknown select value
    # is "Invalid value ..."; the JSON text that does not parse never reaches the API
    resp = await client.post(
        "/_/api/records/posts/new", data={"title": "", "status": "nope", "meta": ""}, headers=_ds(client)
    )
    assert resp.status_code == 200
    assert 'id="record-form-title-error"' in resp.text and "Cannot be blank." in resp.text
    assert 'id="record-form-status-error"' in resp.text
    resp = await client.post(
        "/_/api/records/posts/new", data={"title": "x", "meta": "{oops"}, headers=_ds(client)
    )
    assert 'id="record-form-meta-error"' in resp.text and values.JSON_INVALID in resp.text


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def _collections(api: httpx.Client) -> dict[str, str]:
    """rec_authors, and rec_posts with one field of each type the form edits (ids by name)."""
    authors = api.post(
        "/api/collections", json={"name": "rec_authors", "fields": [{"name": "name", "type": "text"}]}
    )
    assert authors.status_code == 200, authors.text
    fields = [
        {"name": "title", "type": "text", "required": True},
        {"name": "body", "type": "editor"},
        {"name": "views", "type": "number"},
        {"name": "published", "type": "bool"},
        {"name": "due", "type": "date"},
        {"name": "tags", "type": "select", "values": ["red", "green", "blue"], "maxSelect": 3},
        {"name": "meta", "type": "json"},
        {"name": "cover", "type": "file", "maxSelect": 1, "maxSize": 1 << 20},
        {"name": "author", "type": "relation", "collectionId": authors.json()["id"], "maxSelect": 1},
        {"name": "created", "type": "autodate", "onCreate": True},
    ]
    posts = api.post("/api/collections", json={"name": "rec_posts", "fields": fields})
    assert posts.status_code == 200, posts.text
    return {"rec_authors": authors.json()["id"], "rec_posts": posts.json()["id"]}


def _titles(api: httpx.Client) -> list[str]:
    items = api.get("/api/collections/rec_posts/records", params={"sort": "title", "perPage": 100}).json()[
        "items"
    ]
    return [r["title"] for r in items]


@pytest.mark.slow
def test_records_screen_flow(admin_page: Any, admin_server: AdminServer) -> None:
    from playwright.sync_api import expect

    page, api = admin_page, admin_server.api
    _collections(api)
    ada = api.post("/api/collections/rec_authors/records", json={"name": "Ada Lovelace"}).json()
    api.post("/api/collections/rec_authors/records", json={"name": "Grace Hopper"})

    page.goto("/_/records/rec_posts")
    expect(page.locator("#records-table")).to_contain_text("No records found.")
    shot(page, "records-empty")

    # a record through the form: every input, a file and a relation picked by searching
    page.click("#records-new")
    submit(page, "record-form")  # the required title is empty: PocketBase's message, inline
    expect(page.locator("#record-form-title-error")).to_have_text("Cannot be blank.")
    page.fill("#record-form-title", "Alpha post")
    page.fill("#record-form-body", "<p>Hello <b>world</b></p>")
    page.fill("#record-form-views", "42")
    page.check("#record-form-published")
    page.fill("#record-form-due", "2024-05-01T10:30:15")
    page.select_option("#record-form-tags", ["red", "blue"])
    page.fill("#record-form-meta", '{"answer": 42}')
    page.set_input_files(
        "#record-form-cover", files=[{"name": "cover.png", "mimeType": "image/png", "buffer": _png()}]
    )
    page.fill("#record-form-author-search", "Ada")
    page.locator(f"#rel-author-option-{ada['id']}").click()
    expect(page.locator(f"#rel-author-{ada['id']}")).to_contain_text("Ada Lovelace")
    shot(page, "records-form")
    submit(page, "record-form")
    expect(page.locator("#records-saved")).to_be_visible()
    found = api.get("/api/collections/rec_posts/records", params={"filter": "title='Alpha post'"}).json()
    assert found["totalItems"] == 1
    alpha = found["items"][0]
    assert alpha["views"] == 42 and alpha["published"] is True and alpha["author"] == ada["id"]
    assert alpha["due"] == "2024-05-01 10:30:15.000Z" and alpha["tags"] == ["red", "blue"]
    assert alpha["meta"] == {"answer": 42} and alpha["cover"].startswith("cover")
    expect(page.locator(f"#record-{alpha['id']} img.thumb")).to_be_visible()

    # live: records written through the REST API appear in the open table, no reload
    for title in ("Charlie post", "Bravo post"):
        assert api.post("/api/collections/rec_posts/records", json={"title": title}).status_code == 200
    expect(page.locator("#records-table tbody tr")).to_have_count(3)

    # sort by clicking a column, then filter (and a filter PocketBase cannot parse)
    page.locator("#records-table th a", has_text="title").click()
    expect(page.locator("#records-table tbody tr").first).to_contain_text("Alpha post")
    page.locator("#records-table th a", has_text="title").click()
    expect(page.locator("#records-table tbody tr").first).to_contain_text("Charlie post")
    page.fill("#records-filter-filter", "title ~ 'Bra'")
    submit(page, "records-filter")
    expect(page.locator("#records-table tbody tr")).to_have_count(1)
    expect(page.locator("#records-table tbody tr").first).to_contain_text("Bravo post")
    page.fill("#records-filter-filter", "title ~~ ")
    submit(page, "records-filter")
    expect(page.locator("#records-filter-filter-error")).to_be_visible()
    page.fill("#records-filter-filter", "")
    submit(page, "records-filter")
    expect(page.locator("#records-table tbody tr")).to_have_count(3)

    # column choice: the browser hides a column, and keeps hiding it after a reload
    page.click("#records-columns-open")
    page.uncheck("#col-body")
    expect(page.locator("#records-table th", has_text="body")).to_be_hidden()
    page.reload()
    expect(page.locator("#records-table th", has_text="body")).to_be_hidden()
    expect(page.locator("#records-table th", has_text="views")).to_be_visible()
    shot(page, "records-table")

    # edit: a new title, the file removed
    page.click(f"#edit-{alpha['id']}")
    page.fill("#record-form-title", "Alpha edited")
    page.check("#record-form-cover-remove-0")
    submit(page, "record-form")
    expect(page.locator("#records-saved")).to_be_visible()
    edited = api.get(f"/api/collections/rec_posts/records/{alpha['id']}").json()
    assert edited["title"] == "Alpha edited" and edited["cover"] == "" and edited["author"] == ada["id"]

    # bulk delete two of the three
    bravo = api.get("/api/collections/rec_posts/records", params={"filter": "title='Bravo post'"}).json()
    for rid in (alpha["id"], bravo["items"][0]["id"]):
        page.check(f"#record-{rid} input[name=ids]")
    page.once("dialog", lambda d: d.accept())
    page.click("#records-bulk-delete")
    expect(page.locator("#notice")).to_have_text("Deleted 2 records.")
    expect(page.locator("#records-table tbody tr")).to_have_count(1)
    assert _titles(api) == ["Charlie post"]

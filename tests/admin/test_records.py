"""The Records screens: in-process checks of the table and the record form, then whole flows in
Chromium against a real `core serve` (each confirmed through the JSON API)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import anyio
import httpx
import pytest
from litestar.testing import AsyncTestClient

from core.admin import records_live
from core.admin import records_values as values
from core.app import App
from core.store.request import RequestContext
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
            {"name": "where", "type": "geoPoint"},
        ],
    }
    form = {
        "n": ["2.5"],
        "when": ["2024-05-01T10:30"],
        "meta": ['{"a": 1}'],
        "bad": ["{nope"],
        "created": ["x"],
        "where.lon": ["1.5"],
        "where.lat": ["-2"],
    }
    posted = values.read_record_form(collection, form, creating=True)
    assert posted.body == {
        "flag": False,
        "n": 2.5,
        "when": "2024-05-01 10:30:00.000Z",
        "tags": [],
        "meta": {"a": 1},
        "bad": "{nope",  # never sent: an error stops the call
        "where": {"lon": 1.5, "lat": -2},
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


async def test_table_pages_on_the_server(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    total = len(fixture_data.POST_RECORDS)
    assert total >= 2
    resp = await client.get("/_/api/records/posts/table", params={"perPage": "1", "page": "2"}, headers=DS)
    assert resp.status_code == 200
    assert f"{total} items" in resp.text and '<span aria-current="page" class="current">2</span>' in resp.text
    assert resp.text.count('name="ids"') == 1
    # the pager's links keep the table's state and load through the table endpoint
    assert "/_/api/records/posts/table?page=1&amp;perPage=1" in resp.text


def test_related_records_are_labelled_by_presentable_fields() -> None:
    record = {"id": "r1", "name": "Ada", "code": "A-1"}
    assert values.record_label(record, ["code"]) == "A-1 (r1)"
    assert values.record_label(record) == "Ada (r1)"
    assert values.record_label({"id": "r2"}) == "r2"
    row = {"author": "r1", "expand": {"author": record}, "likes": ["x", "y"]}
    assert values.relation_labels(row, "author") == ["Ada (r1)"]
    assert values.relation_labels(row, "likes") == ["x", "y"]


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
    assert "{oops</textarea>" in resp.text  # what was typed stays


def test_file_inputs_append_to_multi_fields_and_replace_single_ones() -> None:
    class Upload:
        def __init__(self, name: str) -> None:
            self.filename = name

        async def read(self) -> bytes:
            return b""

    collection = {
        "fields": [
            {"name": "docs", "type": "file", "maxSelect": 5},
            {"name": "avatar", "type": "file", "maxSelect": 1},
        ]
    }
    form = {"docs": [Upload("a.txt"), Upload("b.txt")], "docs-": ["old.txt"], "avatar": [Upload("me.png")]}
    posted = values.read_record_form(collection, form, creating=False)
    assert posted.body == {"docs-": ["old.txt"]}
    assert [(k, u.filename) for k, u in posted.files] == [
        ("docs+", "a.txt"),
        ("docs+", "b.txt"),
        ("avatar", "me.png"),
    ]


async def test_records_home_opens_the_first_collection_and_guests_sign_in_first(
    client: AsyncTestClient[Any],
) -> None:
    guest = await client.get("/_/records/posts", follow_redirects=False)
    assert guest.status_code == 303 and guest.headers["location"].startswith("/_/login")
    await sign_in(client)
    home = await client.get("/_/records", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/_/records/comments"
    missing = await client.get("/_/records/nope")
    assert missing.status_code == 404


async def test_a_view_collection_lists_and_shows_records_read_only(
    client: AsyncTestClient[Any], tokens: dict[str, str]
) -> None:
    body = {"name": "post_titles", "type": "view", "viewQuery": "SELECT id, title FROM posts"}
    made = await client.post("/api/collections", json=body, headers={"Authorization": tokens["superuser"]})
    assert made.status_code == 200, made.text
    await sign_in(client)
    table = await client.get("/_/records/post_titles")
    assert table.status_code == 200 and 'id="records-new"' not in table.text
    rid = fixture_data.POST_RECORDS[0]["id"]
    shown = await client.get(f"/_/records/post_titles/edit/{rid}")
    assert shown.status_code == 200
    assert 'id="record-view"' in shown.text and 'id="record-form"' not in shown.text
    assert fixture_data.POST_RECORDS[0]["title"] in shown.text


async def test_multi_file_field_uploads_append_and_removals_go_through_the_api(
    client: AsyncTestClient[Any], tokens: dict[str, str]
) -> None:
    su = {"Authorization": tokens["superuser"]}
    fields = [{"name": "docs", "type": "file", "maxSelect": 5, "maxSize": 1 << 20}]
    assert (
        await client.post("/api/collections", json={"name": "rec_docs", "fields": fields}, headers=su)
    ).is_success
    await sign_in(client)
    files = [("docs", ("a.txt", b"aaa", "text/plain")), ("docs", ("b.txt", b"bbb", "text/plain"))]
    resp = await client.post("/_/api/records/rec_docs/new", files=files, headers=_ds(client))
    assert resp.status_code == 200 and "window.location.assign" in resp.text
    record = (await client.get("/api/collections/rec_docs/records", headers=su)).json()["items"][0]
    assert len(record["docs"]) == 2
    first, second = record["docs"]
    more = [("docs", ("c.txt", b"ccc", "text/plain"))]
    resp = await client.post(
        f"/_/api/records/rec_docs/{record['id']}/save", data={"docs-": first}, files=more, headers=_ds(client)
    )
    assert "window.location.assign" in resp.text
    docs = (await client.get(f"/api/collections/rec_docs/records/{record['id']}", headers=su)).json()["docs"]
    assert len(docs) == 2 and first not in docs and second in docs and docs[1].startswith("c")


async def test_relation_picker_searches_the_target_and_adds_a_chip(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    found = await client.get("/_/api/records/posts/relation/likes", params={"q": "Two"}, headers=DS)
    assert found.status_code == 200
    assert f'id="rel-likes-option-{fixture_data.USER2_ID}"' in found.text
    assert fixture_data.USER1_ID not in found.text
    # a quote cannot break out of the filter literal: no match, no error
    quoted = await client.get(
        "/_/api/records/posts/relation/likes", params={"q": "x' || id != '"}, headers=DS
    )
    assert quoted.status_code == 200 and "rel-likes-option-" not in quoted.text
    many = await client.get(
        "/_/api/records/posts/relation/likes/pick", params={"id": fixture_data.USER2_ID}, headers=DS
    )
    assert "selector #rel-likes-selected" in many.text and "mergeMode append" in many.text
    assert f'name="likes" value="{fixture_data.USER2_ID}"' in many.text
    one = await client.get(
        "/_/api/records/posts/relation/author/pick", params={"id": fixture_data.USER1_ID}, headers=DS
    )
    assert "selector #rel-author-selected" in one.text and "mergeMode inner" in one.text


async def test_an_open_table_wakes_on_record_events_of_its_collection_only(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str]
) -> None:
    resolved = await app.auth.resolve(tokens["superuser"])
    posts_col = app.store.find("posts")
    assert resolved is not None and posts_col is not None
    su = resolved[0]

    async def scenario() -> None:
        posts = records_live.watch(app, "posts", su, "127.0.0.1")
        comments = records_live.watch(app, "comments", su, "127.0.0.1")
        try:
            # subscribed: a first wait with nothing written comes back empty at once
            assert not await posts.wait(0) and not await comments.wait(0)
            await app.store.create_record(posts_col, {"title": "live"}, RequestContext(auth=su))
            assert await posts.wait(10.0)
            # the broker handles events one at a time, in order: the posts event is done with
            assert not comments._wake.is_set()
            # the broker drops an idle client (its 5 minute limit): the table reloads once, for
            # what it may have missed, and listens again through a new client
            dropped = posts._client
            assert dropped is not None
            dropped.discard()
            assert await posts.wait(10.0)
            assert posts._client is not dropped and not posts._client.discarded
            await app.store.create_record(posts_col, {"title": "again"}, RequestContext(auth=su))
            assert await posts.wait(10.0)
        finally:
            await posts.close()
            await comments.close()
        assert not [c for c in records_live.broker_of(app).clients.values() if not c.discarded]

    # the app (and its realtime broker) runs on the test client's portal thread: so must the watch
    await anyio.to_thread.run_sync(client.blocking_portal.call, scenario)


async def test_an_open_table_stream_ends_when_the_broker_stops(
    client: AsyncTestClient[Any], app: App, tokens: dict[str, str]
) -> None:
    # at shutdown the realtime broker stops (and drops its clients) before the dashboard's own
    # hook runs: a stream that subscribed again would keep the server from stopping
    resolved = await app.auth.resolve(tokens["superuser"])
    assert resolved is not None

    async def scenario() -> None:
        table_watch = records_live.watch(app, "posts", resolved[0], "127.0.0.1")
        assert not await table_watch.wait(0)  # subscribed
        events = records_live.stream(table_watch, app)
        waiting = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)  # the stream waits
        broker = app.services.pop("realtime")
        try:
            await broker.stop()
            with pytest.raises(StopAsyncIteration):
                await waiting  # the drop wakes the stream, and it ends without subscribing again
            assert table_watch.closed and not broker.clients
        finally:
            app.services["realtime"] = broker

    await anyio.to_thread.run_sync(client.blocking_portal.call, scenario)


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
    page.fill("#record-form-body", "<p>Hello <b>world</b></p>")
    page.fill("#record-form-views", "42")
    page.check("#record-form-published")
    page.fill("#record-form-due", "2024-05-01T10:30:15")
    page.select_option("#record-form-tags", ["red", "blue"])
    page.fill("#record-form-meta", '{"answer": 42}')
    page.set_input_files(
        "#record-form-cover", files=[{"name": "cover.png", "mimeType": "image/png", "buffer": _png()}]
    )
    expect(page.locator("#record-form-cover-new img")).to_be_visible()  # previewed before upload
    page.fill("#record-form-author-search", "Ada")
    page.locator(f"#rel-author-option-{ada['id']}").click()
    expect(page.locator(f"#rel-author-{ada['id']}")).to_contain_text("Ada Lovelace")
    shot(page, "records-form")
    # the required title is empty: PocketBase's message, inline; what was chosen stays chosen
    submit(page, "record-form")
    expect(page.locator("#record-form-title-error")).to_have_text("Cannot be blank.")
    expect(page.locator(f"#rel-author-{ada['id']}")).to_be_visible()
    expect(page.locator("#record-form-views")).to_have_value("42")
    page.fill("#record-form-title", "Alpha post")
    submit(page, "record-form")
    expect(page.locator("#records-saved")).to_be_visible()
    found = api.get("/api/collections/rec_posts/records", params={"filter": "title='Alpha post'"}).json()
    assert found["totalItems"] == 1
    alpha = found["items"][0]
    assert alpha["views"] == 42 and alpha["published"] is True and alpha["author"] == ada["id"]
    assert alpha["due"] == "2024-05-01 10:30:15.000Z" and alpha["tags"] == ["red", "blue"]
    assert alpha["meta"] == {"answer": 42} and alpha["cover"].startswith("cover")
    expect(page.locator(f"#record-{alpha['id']} img.thumb")).to_be_visible()
    expect(page.locator(f"#record-{alpha['id']}")).to_contain_text(f"Ada Lovelace ({ada['id']})")

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
    expect(page.locator("#notice")).to_have_text("Successfully deleted 2 records.")
    expect(page.locator("#records-table tbody tr")).to_have_count(1)
    assert _titles(api) == ["Charlie post"]


@pytest.mark.slow
def test_auth_record_flow(admin_page: Any, admin_server: AdminServer) -> None:
    from playwright.sync_api import expect

    page, api = admin_page, admin_server.api
    created = api.post(
        "/api/collections",
        json={"name": "rec_members", "type": "auth", "viewRule": "id = @request.auth.id", "fields": []},
    )
    assert created.status_code == 200, created.text
    email = "member@example.com"

    page.goto("/_/records/rec_members/new")
    page.fill("#record-form-email", email)
    page.fill("#record-form-password", "first-password-1")
    page.fill("#record-form-passwordConfirm", "other-password-1")
    submit(page, "record-form")  # PocketBase's mismatch message, next to the confirmation
    expect(page.locator("#record-form-passwordConfirm-error")).to_be_visible()
    page.fill("#record-form-password", "first-password-1")
    page.fill("#record-form-passwordConfirm", "first-password-1")
    submit(page, "record-form")
    expect(page.locator("#records-saved")).to_be_visible()
    member = api.get("/api/collections/rec_members/records", params={"filter": f"email='{email}'"}).json()[
        "items"
    ][0]
    assert member["verified"] is False

    page.click(f"#edit-{member['id']}")
    page.once("dialog", lambda d: d.accept())
    page.click("#record-send-verification")
    expect(page.locator("#notice")).to_have_text(f"Successfully sent verification email to {email}.")
    assert admin_server.mails_to(email, "Verify")
    page.once("dialog", lambda d: d.accept())
    page.click("#record-send-reset")
    expect(page.locator("#notice")).to_have_text(f"Successfully sent password reset email to {email}.")
    assert admin_server.mails_to(email, "Reset")

    page.fill("#record-impersonate-duration", "600")
    submit(page, "record-impersonate")
    token = page.locator("#record-impersonate-token")
    expect(token).to_be_visible()
    seen = httpx.get(
        f"{admin_server.url}/api/collections/rec_members/records/{member['id']}",
        headers={"Authorization": token.input_value()},
    )
    assert seen.status_code == 200 and seen.json()["email"] == email
    shot(page, "records-auth")

    # verified flag and a new password, set by the superuser through the form
    page.check("#record-form-verified")
    page.fill("#record-form-password", "second-password-2")
    page.fill("#record-form-passwordConfirm", "second-password-2")
    submit(page, "record-form")
    expect(page.locator("#records-saved")).to_be_visible()
    assert api.get(f"/api/collections/rec_members/records/{member['id']}").json()["verified"] is True
    login = httpx.post(
        f"{admin_server.url}/api/collections/rec_members/auth-with-password",
        json={"identity": email, "password": "second-password-2"},
    )
    assert login.status_code == 200

    page.click(f"#edit-{member['id']}")
    page.once("dialog", lambda d: d.accept())
    page.click("#record-delete")
    expect(page.locator("#records-deleted")).to_have_text(f'Successfully deleted record "{member["id"]}".')
    assert api.get(f"/api/collections/rec_members/records/{member['id']}").status_code == 404

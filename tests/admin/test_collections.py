"""The Collections screens: in-process endpoint checks first, then whole flows in Chromium."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from core.admin import collections_checks as checks
from core.admin import collections_draft as drafts
from core.app import App
from core.store.schema import FIELD_TYPES
from tests import fixture_data
from tests.admin.conftest import AdminServer, shot, submit
from tests.admin.test_session import DS, sign_in


def test_the_form_reads_back_as_pocketbase_json() -> None:
    form = {
        "name": " notes ",
        "type": "base",
        "listRule": "",
        "viewRule": "x = 1",
        "locked.createRule": "true",
        "createRule": "",
        "updateRule": "",
        "locked.updateRule": "true",
        "fields.1.name": "tags",
        "fields.1.type": "select",
        "fields.1.values": "a, b,,c ",
        "fields.1.maxSelect": "2",
        "fields.1.required": "true",
        "fields.0.name": "id",
        "fields.0.type": "text",
        "fields.0.system": "true",
        "fields.0.primaryKey": "true",
        "fields.2.name": "score",
        "fields.2.type": "number",
        "fields.2.min": "",
        "fields.2.max": "2.5",
        "indexes.0": "CREATE INDEX `i` ON `notes` (`tags`)",
        "indexes.1": " ",
    }
    draft = drafts.parse(form)
    assert draft["name"] == "notes"
    assert (draft["listRule"], draft["viewRule"], draft["createRule"], draft["deleteRule"]) == (
        "",
        "x = 1",
        None,
        "",
    )
    assert draft["updateRule"] is None
    assert [f["name"] for f in draft["fields"]] == ["id", "tags", "score"]
    tags = draft["fields"][1]
    assert (
        tags["values"] == ["a", "b", "c"]
        and tags["maxSelect"] == 2
        and tags["required"]
        and not tags["hidden"]
    )
    assert draft["fields"][0]["primaryKey"] and draft["fields"][0]["system"]
    assert draft["fields"][2]["min"] is None and draft["fields"][2]["max"] == 2.5
    assert draft["indexes"] == ["CREATE INDEX `i` ON `notes` (`tags`)"]


def test_editor_buttons() -> None:
    draft = {
        "name": "n",
        "type": "base",
        "fields": [{"name": "id", "system": True}, {"name": "a"}, {"name": "b"}],
    }
    drafts.apply_op(draft, "down", 1, {})
    assert [f["name"] for f in draft["fields"]] == ["id", "b", "a"]
    drafts.move_to(draft["fields"], 2, 0)
    assert [f["name"] for f in draft["fields"]] == ["a", "id", "b"]
    assert drafts.apply_op(draft, "remove-field", 1, {}) == "System fields cannot be removed."
    drafts.apply_op(draft, "add-field", -1, {"newFieldType": "geoPoint"})
    drafts.apply_op(draft, "add-field", -1, {"newFieldType": "geoPoint"})
    assert [f["name"] for f in draft["fields"]][-2:] == ["geopoint", "geopoint2"]
    assert drafts.apply_op(draft, "add-index", -1, {"newIndex.columns": "a; drop"}) != ""
    drafts.apply_op(draft, "add-index", -1, {"newIndex.columns": "a, b", "newIndex.unique": "true"})
    assert re.fullmatch(r"CREATE UNIQUE INDEX `idx_\w+` ON `n` \(`a`, `b`\)", draft["indexes"][0])


def test_indexes_follow_the_collection_name() -> None:
    draft = {
        "name": "notes",
        "indexes": [
            "CREATE UNIQUE INDEX `idx_a` ON `` (`title`)",
            "CREATE INDEX idx_b ON old_name (a, b) WHERE a != ''",
        ],
    }
    drafts.retarget_indexes(draft)
    assert draft["indexes"] == [
        "CREATE UNIQUE INDEX `idx_a` ON `notes` (`title`)",
        "CREATE INDEX idx_b ON `notes` (a, b) WHERE a != ''",
    ]


def _ds(client: AsyncTestClient[Any]) -> dict[str, str]:
    return {**DS, "Origin": str(client.base_url)}


BASE_FORM = {
    "name": "notes",
    "type": "base",
    "fields.0.name": "id",
    "fields.0.type": "text",
    "fields.0.system": "true",
    "fields.0.primaryKey": "true",
    "fields.0.autogeneratePattern": "[a-z0-9]{15}",
    "fields.0.min": "15",
    "fields.0.max": "15",
    "fields.0.pattern": "^[a-z0-9]+$",
    "fields.0.required": "true",
    "fields.1.name": "title",
    "fields.1.type": "text",
}


async def test_screens_render(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    for url in (
        "/_/collections?q=post",
        "/_/collections/new?type=base",
        "/_/collections/new?type=auth",
        "/_/collections/new?type=view",
        "/_/collections/users",
        "/_/collections/export",
        "/_/collections/import",
    ):
        assert (await client.get(url)).status_code == 200, url
    table = await client.get("/_/api/collections/table?q=post", headers=DS)
    assert 'id="collection-posts"' in table.text and 'id="collection-users"' not in table.text


class _FormValues(HTMLParser):
    """What a browser posts for the editor's form: inputs, checked boxes, selected options, textareas."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._inside = a.get("id") == "collection"
        if not self._inside or "name" not in a and tag != "option":
            return
        if tag == "input" and (a.get("type") != "checkbox" or "checked" in a):
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and ("selected" in a or self._select not in self.values):
            self.values[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


@pytest.mark.parametrize("name", ["users", "posts", "_superusers", "post_titles"])
async def test_saving_an_unchanged_collection_changes_nothing(
    client: AsyncTestClient[Any], name: str
) -> None:
    await sign_in(client)
    h = {"Authorization": await _token(client)}
    view = {"name": "post_titles", "type": "view", "viewQuery": "SELECT id, title FROM posts", "listRule": ""}
    assert (await client.post("/api/collections", json=view, headers=h)).status_code == 200
    before = (await client.get(f"/api/collections/{name}", headers=h)).json()
    parser = _FormValues()
    parser.feed((await client.get(f"/_/collections/{before['id']}")).text)
    saved = await client.post("/_/api/collections/save", data=parser.values, headers=_ds(client))
    assert "saved." in saved.text, saved.text[:2000]
    after = (await client.get(f"/api/collections/{name}", headers=h)).json()
    assert {**after, "updated": ""} == {**before, "updated": ""}


def test_changes_that_touch_data_are_listed_for_confirmation() -> None:
    old = {
        "name": "posts",
        "type": "base",
        "fields": [
            {"id": "a", "name": "title"},
            {"id": "b", "name": "tags", "maxSelect": 3},
            {"id": "c", "name": "body"},
        ],
    }
    new = {
        **old,
        "name": "articles",
        "fields": [{"id": "a", "name": "headline"}, {"id": "b", "name": "tags", "maxSelect": 1}],
    }
    assert checks.risky_changes(old, new) == [
        "Rename the collection posts to articles.",
        "Rename the field title to headline.",
        "Make tags single: only the first value of each record stays.",
        "Delete the field body and all its data.",
    ]
    assert (
        checks.risky_changes(old, {**old, "listRule": "", "fields": [*old["fields"], {"name": "new"}]}) == []
    )


async def test_a_rename_is_saved_only_once_confirmed(client: AsyncTestClient[Any], app: App) -> None:
    await sign_in(client)
    parser = _FormValues()
    parser.feed((await client.get("/_/collections/posts")).text)
    form = dict(parser.values)
    title = next(k for k, v in form.items() if k.endswith(".name") and v == "title")
    form[title] = "headline"
    asked = await client.post("/_/api/collections/save", data=form, headers=_ds(client))
    assert 'id="confirm-changes"' in asked.text and "Rename the field title to headline." in asked.text
    assert app.store.registry.find("posts").get_field("title") is not None  # type: ignore[union-attr]
    saved = await client.post("/_/api/collections/save?confirmed=1", data=form, headers=_ds(client))
    assert "Collection posts saved." in saved.text
    assert app.store.registry.find("posts").get_field("headline") is not None  # type: ignore[union-attr]


async def test_save_shows_pocketbase_errors_next_to_the_inputs(
    client: AsyncTestClient[Any], app: App
) -> None:
    await sign_in(client)
    form = {**BASE_FORM, "name": "bad name", "fields.1.name": "", "viewRule": "nosuchfield = 1"}
    resp = await client.post("/_/api/collections/save", data=form, headers=_ds(client))
    assert resp.status_code == 200
    assert 'id="collection-name-error"' in resp.text
    assert 'id="collection-fields-1-name-error"' in resp.text
    assert 'id="collection-viewRule-error"' in resp.text and "unknown field" in resp.text
    assert app.store.registry.find("bad name") is None


async def test_editor_checks_rules_and_previews_a_view(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    form = {**BASE_FORM, "listRule": "title = 'x'", "viewRule": "nosuchfield = 1"}
    resp = await client.post("/_/api/collections/editor?op=check-rules", data=form, headers=_ds(client))
    assert 'id="rule-check-listRule">Syntax OK' in resp.text
    assert 'unknown field \\"nosuchfield\\"' in resp.text.replace("&#34;", '\\"')
    view = {"name": "v", "type": "view", "viewQuery": "SELECT id, title, views FROM posts"}
    resp = await client.post("/_/api/collections/editor?op=preview-view", data=view, headers=_ds(client))
    assert "<td>title</td><td>text</td>" in resp.text and "<td>views</td><td>number</td>" in resp.text
    bad = {**view, "viewQuery": "SELECT title FROM posts"}
    resp = await client.post("/_/api/collections/editor?op=preview-view", data=bad, headers=_ds(client))
    assert 'id="view-preview-error"' in resp.text and "id column" in resp.text


async def test_import_shows_a_diff_before_applying(client: AsyncTestClient[Any], app: App) -> None:
    await sign_in(client)
    h = {"Authorization": (await _token(client))}
    current = (await client.get("/api/collections", params={"perPage": 500}, headers=h)).json()["items"]
    posts = next(c for c in current if c["name"] == "posts")
    posts["fields"].append({"name": "subtitle", "type": "text"})
    posts["listRule"] = "published = true"
    new = {"name": "imported", "type": "base", "fields": [{"name": "title", "type": "text"}]}
    text = json.dumps([posts, new])
    bad = await client.post(
        "/_/api/collections/import/review", data={"collections": "[1"}, headers=_ds(client)
    )
    assert 'id="import-collections-error"' in bad.text
    review = await client.post(
        "/_/api/collections/import/review", data={"collections": text}, headers=_ds(client)
    )
    assert 'id="diff-imported"' in review.text and 'id="diff-posts"' in review.text
    assert "+ field subtitle (text)" in review.text and "listRule" in review.text
    assert app.store.registry.find("imported") is None  # nothing applied yet
    applied = await client.post("/_/api/collections/import", data={"collections": text}, headers=_ds(client))
    assert "Imported 2 collections." in applied.text
    assert app.store.registry.find("imported") is not None
    assert app.store.registry.find("posts").get_field("subtitle") is not None  # type: ignore[union-attr]


async def _token(client: AsyncTestClient[Any]) -> str:
    body = {"identity": fixture_data.SUPERUSER[0], "password": fixture_data.SUPERUSER[1]}
    resp = await client.post("/api/collections/_superusers/auth-with-password", json=body)
    return str(resp.json()["token"])


async def test_writes_need_the_datastar_header_and_same_origin(
    client: AsyncTestClient[Any], app: App
) -> None:
    await sign_in(client)
    plain = await client.post("/_/api/collections/posts/delete")
    assert plain.status_code == 401
    foreign = await client.post(
        "/_/api/collections/posts/delete", headers={**DS, "Origin": "https://evil.example"}
    )
    assert "/_/login" in foreign.text  # treated as signed out
    assert app.store.registry.find("posts") is not None


async def test_an_oauth2_provider_saved_without_its_secret_keeps_it(
    client: AsyncTestClient[Any], app: App
) -> None:
    # PocketBase 0.40.6 keeps the stored clientSecret of a provider of the same name (checked
    # against the binary); the dashboard relies on it, since the API never shows the secret
    h = {"Authorization": await _token(client)}
    google = {"name": "google", "clientId": "g", "clientSecret": "google-secret"}
    github = {"name": "github", "clientId": "h", "clientSecret": "github-secret"}
    body = {"oauth2": {"enabled": True, "providers": [google, github]}}
    assert (await client.patch("/api/collections/users", json=body, headers=h)).status_code == 200
    swapped = [{"name": "github", "clientId": "h2"}, {"name": "google", "clientId": "g"}]
    resp = await client.patch("/api/collections/users", json={"oauth2": {"providers": swapped}}, headers=h)
    assert resp.status_code == 200 and "secret" not in json.dumps(resp.json()["oauth2"])
    stored = app.store.registry.find("users").auth["oauth2"]["providers"]  # type: ignore[union-attr]
    assert [(p["name"], p["clientId"], p["clientSecret"]) for p in stored] == [
        ("github", "h2", "github-secret"),
        ("google", "g", "google-secret"),
    ]


# -- in Chromium ---------------------------------------------------------------------------------

TYPES = FIELD_TYPES


def _names(page: Any) -> list[str]:
    return page.locator("fieldset.cfield[data-field]").evaluate_all("els => els.map(e => e.dataset.field)")


def _field_input(page: Any, name: str, option: str) -> Any:
    index = _names(page).index(name)
    return page.locator(f"#collection-fields-{index}-{option}")


@pytest.mark.slow
def test_collection_with_every_field_type_and_rules_the_api_obeys(
    admin_page: Any, admin_server: AdminServer
) -> None:
    from playwright.sync_api import expect

    page, api = admin_page, admin_server.api
    page.goto("/_/collections")
    shot(page, "collections")
    page.click("#new-base")
    page.fill("#collection-name", "everything")
    for field_type in TYPES:
        before = len(_names(page))
        page.select_option("#collection-newFieldType", field_type)
        page.click("#add-field")
        expect(page.locator("fieldset.cfield[data-field]")).to_have_count(before + 1)
    names = _names(page)
    assert names[-len(TYPES) :] == [t.lower() for t in TYPES]
    # options of the types
    _field_input(page, "text", "pattern").fill("^[a-z]+$")
    _field_input(page, "text", "min").fill("2")
    _field_input(page, "text", "max").fill("10")
    _field_input(page, "number", "min").fill("0")
    _field_input(page, "number", "max").fill("100")
    _field_input(page, "email", "onlyDomains").fill("example.com")
    _field_input(page, "url", "exceptDomains").fill("evil.example")
    _field_input(page, "file", "maxSelect").fill("1")
    _field_input(page, "file", "maxSize").fill("1048576")
    _field_input(page, "file", "mimeTypes").fill("image/png, image/jpeg")
    _field_input(page, "file", "thumbs").fill("100x100")
    _field_input(page, "file", "protected").check()
    _field_input(page, "relation", "collectionId").select_option(label="users")
    _field_input(page, "relation", "cascadeDelete").check()
    _field_input(page, "relation", "maxSelect").fill("1")
    _field_input(page, "json", "maxSize").fill("2000")
    _field_input(page, "autodate", "onUpdate").check()
    _field_input(page, "text", "required").check()
    # a select without choices: PocketBase's message shows next to its input, nothing is saved
    submit(page, "collection")
    select_error = page.locator(f"#collection-fields-{_names(page).index('select')}-values-error")
    expect(select_error).to_be_visible()
    assert api.get("/api/collections/everything").status_code == 404
    _field_input(page, "select", "values").fill("red, green, blue")
    _field_input(page, "select", "maxSelect").fill("2")
    # reorder by keyboard buttons and by drag and drop
    at = _names(page).index("bool")
    page.locator(f"#field-{at}-up").click()
    expect(page.locator(f"#field-{at - 1}")).to_have_attribute("data-field", "bool")
    names = _names(page)
    assert names.index("bool") == names.index("number") - 1
    # a real drag with the mouse: the last field onto the one above it (both in view: a drag
    # that has to scroll the page is a gesture no user makes)
    last = names.index("geopoint")
    page.locator(f"#field-{last - 1}").scroll_into_view_if_needed()
    page.locator(f"#drag-{last}").drag_to(page.locator(f"#field-{last - 1}"))
    expect(page.locator(f"#field-{last - 1}")).to_have_attribute("data-field", "geopoint")
    # rules: a rule naming no field fails the real compiler's check before saving
    page.fill("#collection-viewRule", "nosuchfield = 1")
    page.click("#check-rules")
    expect(page.locator("#rule-check-viewRule")).to_contain_text("nosuchfield")
    page.fill("#collection-listRule", "")
    page.uncheck("#collection-locked-listRule")
    page.fill("#collection-viewRule", 'text = "public"')
    page.click("#check-rules")
    expect(page.locator("#rule-check-viewRule")).to_have_text("Syntax OK")
    # a unique index on the text field
    page.fill("#collection-newIndex-columns", "text")
    page.check("#collection-newIndex-unique")
    page.click("#add-index")
    expect(page.locator("#collection-indexes-0")).to_have_value(
        re.compile(r"CREATE UNIQUE INDEX .* \(`text`\)")
    )
    shot(page, "collection-new")
    submit(page, "collection")
    expect(page.locator("#notice")).to_have_text("Collection everything saved.")
    shot(page, "collection-saved")

    col = api.get("/api/collections/everything").json()
    by_name = {f["name"]: f for f in col["fields"]}
    assert {by_name[t.lower()]["type"] for t in TYPES} == set(TYPES)
    assert [f["name"] for f in col["fields"]][-2:] == ["geopoint", "password"]
    assert (
        by_name["text"]["pattern"] == "^[a-z]+$"
        and by_name["text"]["min"] == 2
        and by_name["text"]["required"]
    )
    assert by_name["number"]["max"] == 100
    assert by_name["email"]["onlyDomains"] == ["example.com"]
    assert by_name["select"]["values"] == ["red", "green", "blue"] and by_name["select"]["maxSelect"] == 2
    assert by_name["file"]["mimeTypes"] == ["image/png", "image/jpeg"] and by_name["file"]["protected"]
    assert by_name["file"]["thumbs"] == ["100x100"]
    assert by_name["relation"]["cascadeDelete"] and by_name["relation"]["collectionId"]
    assert by_name["autodate"]["onUpdate"]
    assert col["listRule"] == "" and col["viewRule"] == 'text = "public"' and col["createRule"] is None
    assert any("UNIQUE" in i and "`text`" in i for i in col["indexes"])

    # the REST API obeys the rules: public list, superusers-only create, view only where text = "public"
    guest = httpx.Client(base_url=admin_server.url)
    try:
        assert guest.get("/api/collections/everything/records").status_code == 200
        assert guest.post("/api/collections/everything/records", json={"text": "abc"}).status_code == 403
        shown = api.post("/api/collections/everything/records", json={"text": "public"}).json()
        hidden = api.post("/api/collections/everything/records", json={"text": "secret"}).json()
        assert guest.get(f"/api/collections/everything/records/{shown['id']}").status_code == 200
        assert guest.get(f"/api/collections/everything/records/{hidden['id']}").status_code == 404
        # lock the list rule in the editor: the API refuses guests from then on
        page.check("#collection-locked-listRule")
        submit(page, "collection")
        expect(page.locator("#notice")).to_have_text("Collection everything saved.")
        assert api.get("/api/collections/everything").json()["listRule"] is None
        assert guest.get("/api/collections/everything/records").status_code == 403
    finally:
        guest.close()


@pytest.mark.slow
def test_auth_options_view_import_export_truncate_delete(admin_page: Any, admin_server: AdminServer) -> None:
    from playwright.sync_api import expect

    page, api = admin_page, admin_server.api
    page.goto("/_/collections")
    page.click("#new-auth")
    page.fill("#collection-name", "members")
    page.check("#collection-otp-enabled")
    page.fill("#collection-otp-duration", "300")
    page.fill("#collection-otp-length", "6")
    page.check("#collection-oauth2-enabled")
    page.select_option("#collection-newProvider", "google")
    page.click("#add-provider")
    page.fill("#collection-oauth2-providers-0-clientId", "google-client")
    page.fill("#collection-oauth2-providers-0-clientSecret", "google-secret")
    page.select_option("#collection-oauth2-mappedFields-name", "email")
    page.fill("#collection-authToken-duration", "3600")
    page.uncheck("#collection-authAlert-enabled")
    page.locator("#template-verificationTemplate summary").click()
    page.fill("#collection-verificationTemplate-subject", "Verify {APP_NAME} now")
    page.click("#preview-verificationTemplate")
    expect(page.locator("#mail-preview-subject")).to_have_text("Verify Acme now")
    assert "SAMPLE_TOKEN" in page.locator("#mail-preview iframe").get_attribute("srcdoc")
    shot(page, "collection-auth")
    submit(page, "collection")
    expect(page.locator("#notice")).to_have_text("Collection members saved.")
    col = api.get("/api/collections/members").json()
    assert col["type"] == "auth"
    assert col["otp"]["enabled"] and col["otp"]["duration"] == 300 and col["otp"]["length"] == 6
    assert col["oauth2"]["enabled"] and col["oauth2"]["mappedFields"]["name"] == "email"
    assert [(p["name"], p["clientId"]) for p in col["oauth2"]["providers"]] == [("google", "google-client")]
    assert "clientSecret" not in col["oauth2"]["providers"][0]
    assert col["authToken"]["duration"] == 3600 and not col["authAlert"]["enabled"]
    assert col["verificationTemplate"]["subject"] == "Verify {APP_NAME} now"
    assert any("UNIQUE" in i and "`email`" in i for i in col["indexes"])
    # it works as an auth collection: its token secrets were made on create
    member = {"email": "m@example.com", "password": "member-pass-1", "passwordConfirm": "member-pass-1"}
    assert api.post("/api/collections/members/records", json=member).status_code == 200
    login = {"identity": "m@example.com", "password": "member-pass-1"}
    signed_in = httpx.post(f"{admin_server.url}/api/collections/members/auth-with-password", json=login)
    assert signed_in.status_code == 200 and signed_in.json()["token"]

    # a view over it, with the inferred fields shown before saving
    page.goto("/_/collections/new?type=view")
    page.fill("#collection-name", "member_emails")
    page.fill("#collection-viewQuery", "SELECT id, email FROM members")
    page.click("#view-preview")
    expect(page.locator("#view-fields")).to_contain_text("email")
    submit(page, "collection")
    expect(page.locator("#notice")).to_have_text("Collection member_emails saved.")
    assert [f["name"] for f in api.get("/api/collections/member_emails").json()["fields"]] == ["id", "email"]

    # search
    page.goto("/_/collections")
    page.fill("#collections-search-q", "member")
    expect(page.locator("#collection-users")).to_have_count(0)
    expect(page.locator("#collection-members")).to_be_visible()
    expect(page.locator("#collection-member_emails")).to_be_visible()

    # export, then import a copy with one more collection, reviewing the diff first
    page.click("#collections-export")
    exported = json.loads(page.locator("#export-json").input_value())
    assert {"members", "member_emails"} <= {c["name"] for c in exported}
    assert "google-secret" not in page.content()
    shot(page, "collections-export")
    page.goto("/_/collections/import")
    extra = {"name": "imported_notes", "type": "base", "fields": [{"name": "body", "type": "editor"}]}
    schema = json.dumps([*exported, extra]).encode()
    page.set_input_files(
        "#import-file", files=[{"name": "pb_schema.json", "mimeType": "application/json", "buffer": schema}]
    )
    submit(page, "import")
    expect(page.locator("#diff-imported_notes")).to_contain_text("Create")
    expect(page.locator("#import-diff > li")).to_have_count(1)
    shot(page, "collections-import")
    assert api.get("/api/collections/imported_notes").status_code == 404
    page.once("dialog", lambda d: d.accept())
    page.click("#import-apply")
    expect(page.locator("#notice")).to_contain_text("Imported")
    assert api.get("/api/collections/imported_notes").status_code == 200

    # truncate and delete, each after a confirmation
    api.post("/api/collections/imported_notes/records", json={"body": "<p>x</p>"})
    page.goto("/_/collections/imported_notes")
    page.once("dialog", lambda d: d.accept())
    page.click("#collection-truncate")
    expect(page.locator("#notice")).to_have_text("All records deleted.")
    assert api.get("/api/collections/imported_notes/records").json()["totalItems"] == 0
    page.once("dialog", lambda d: d.dismiss())
    page.click("#collection-delete")
    assert api.get("/api/collections/imported_notes").status_code == 200  # dismissed: nothing happens
    page.once("dialog", lambda d: d.accept())
    page.click("#collection-delete")
    expect(page.locator("#notice")).to_have_text("Collection deleted.")
    assert api.get("/api/collections/imported_notes").status_code == 404

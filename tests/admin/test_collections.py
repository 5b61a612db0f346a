"""The Collections screens: in-process endpoint checks first, then whole flows in Chromium."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.admin.conftest import AdminServer, shot, submit
from tests.admin.test_session import DS, sign_in


def _ds(client: AsyncTestClient[Any]) -> dict[str, str]:
    return {**DS, "Origin": str(client.base_url)}


async def test_smoke(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    for url in (
        "/_/collections",
        "/_/collections/new?type=base",
        "/_/collections/new?type=auth",
        "/_/collections/new?type=view",
        "/_/collections/users",
        "/_/collections/export",
        "/_/collections/import",
    ):
        r = await client.get(url)
        assert r.status_code == 200, (url, r.text[-3000:])
    r = await client.get("/_/api/collections/table?q=user", headers=DS)
    print(r.text[:500])


# -- in Chromium ---------------------------------------------------------------------------------

TYPES = (
    "text",
    "number",
    "bool",
    "email",
    "url",
    "editor",
    "date",
    "autodate",
    "select",
    "json",
    "file",
    "relation",
    "password",
    "geoPoint",
)


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
    # the drag events as the browser sends them (headless Chromium starts no native drag here)
    data = page.evaluate_handle("new DataTransfer()")
    page.locator(f"#drag-{names.index('geopoint')}").dispatch_event("dragstart", {"dataTransfer": data})
    page.locator(f"#field-{names.index('text')}").dispatch_event("dragover", {"dataTransfer": data})
    page.locator(f"#field-{names.index('text')}").dispatch_event("drop", {"dataTransfer": data})
    expect(page.locator(f"#field-{names.index('text')}")).to_have_attribute("data-field", "geopoint")
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
    assert [f["name"] for f in col["fields"]][1] == "geopoint"
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

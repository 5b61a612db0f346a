"""Record events derived from committed changesets (the change stream), without any broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.app import App
from core.realtime.events import RecordEvent, decode, encode
from core.realtime.source import ChangeSource
from tests import fixture_data
from tests.realtime.conftest import superuser_request


async def settled(app: App) -> None:
    """Listeners run on the writer thread after a write is acknowledged; the next write's turn
    comes only once they are done."""
    await app.store.db.write(lambda ctx: None)


@pytest.fixture
def published(app: App) -> Iterator[list[RecordEvent]]:
    events: list[RecordEvent] = []
    source = ChangeSource(app.store.db, app.store.registry, lambda message: events.extend(decode(message)))
    source.attach()
    yield events
    source.detach()


async def test_create_carries_the_new_row(app: App, published: list[RecordEvent]) -> None:
    posts = app.store.find("posts")
    assert posts is not None
    await app.store.create_record(
        posts, {"id": "p5eeeeeeeeeeeee", "title": "T", "views": 3}, superuser_request(app)
    )
    await settled(app)
    [event] = published
    assert (event.action, event.collection_id, event.record_id) == ("create", posts.id, "p5eeeeeeeeeeeee")
    assert event.row["title"] == "T" and event.row["views"] == 3
    assert set(event.row) == {f.name for f in posts.fields}


async def test_update_carries_the_full_after_image_and_what_changed(
    app: App, published: list[RecordEvent]
) -> None:
    posts = app.store.find("posts")
    assert posts is not None
    await app.store.update_record(posts, "post1aaaaaaaaaa", {"views": 101}, superuser_request(app))
    await settled(app)
    [event] = published
    assert event.action == "update"
    assert event.row["views"] == 101 and event.row["title"] == "Hello world"
    assert set(event.changed) == {"views", "updated"}


async def test_delete_carries_the_before_image(app: App, published: list[RecordEvent]) -> None:
    posts = app.store.find("posts")
    assert posts is not None
    await app.store.delete_record(posts, "post1aaaaaaaaaa", superuser_request(app))
    await settled(app)
    assert {e.action for e in published} == {"delete"}
    assert {e.record_id for e in published} == {"post1aaaaaaaaaa", "comm1aaaaaaaaaa", "comm2bbbbbbbbbb"}
    post = next(e for e in published if e.record_id == "post1aaaaaaaaaa")
    assert post.row["title"] == "Hello world" and post.row["secret"] == "s1"


async def test_relation_cleanup_is_an_update(app: App, published: list[RecordEvent]) -> None:
    users = app.store.find("users")
    assert users is not None
    await app.store.delete_record(users, fixture_data.USER2_ID, superuser_request(app))
    await settled(app)
    updates = {e.record_id: e for e in published if e.action == "update"}
    # post1 liked by user2 loses the like; comm1 written by user2 loses its user
    assert updates["post1aaaaaaaaaa"].row["likes"] == f'["{fixture_data.USER1_ID}"]'
    assert updates["comm1aaaaaaaaaa"].row["user"] == ""


async def test_non_record_tables_are_ignored(app: App, published: list[RecordEvent]) -> None:
    await app.store.update_settings({"meta": {"appName": "X"}})
    await settled(app)
    await app.store.create_collection(
        {"name": "fresh", "type": "base", "fields": [{"name": "a", "type": "text"}]}
    )
    assert published == []


def test_large_batches_are_split() -> None:
    events = [RecordEvent("create", "c", {"id": str(i), "blob": "x" * 1000}) for i in range(100)]
    messages = encode(events, limit=10_000)
    assert len(messages) > 10
    assert [e for m in messages for e in decode(m)] == events

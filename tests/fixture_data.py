"""The checked-in shape of the test data set, built once per session with core's own store.

Like PocketBase's `tests/data`: every API scenario starts from a fresh copy of this directory,
so cases are independent and fast.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from core import superusers
from core.store.request import Auth, RequestContext
from core.store.store import Store

SUPERUSER = ("admin@example.com", "password123456")
USER1 = ("user1@example.com", "password-user1")
USER2 = ("user2@example.com", "password-user2")

USER1_ID = "user1aaaaaaaaaa"
USER2_ID = "user2bbbbbbbbbb"

POSTS = {
    "name": "posts",
    "id": "pbc_posts000001",
    "type": "base",
    "listRule": "published = true || author = @request.auth.id",
    "viewRule": "published = true || author = @request.auth.id",
    "createRule": "@request.auth.id != '' && author = @request.auth.id",
    "updateRule": "author = @request.auth.id",
    "deleteRule": None,
    "fields": [
        {"name": "title", "type": "text", "required": True, "max": 100},
        {"name": "body", "type": "editor"},
        {"name": "views", "type": "number"},
        {"name": "published", "type": "bool"},
        {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
        {"name": "status", "type": "select", "values": ["draft", "live"], "maxSelect": 1},
        {"name": "meta", "type": "json"},
        {"name": "due", "type": "date"},
        {"name": "secret", "type": "text", "hidden": True},
        {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        {"name": "likes", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 5},
        {"name": "created", "type": "autodate", "onCreate": True, "onUpdate": False},
        {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
    ],
    "indexes": ["CREATE INDEX `idx_posts_views` ON `posts` (`views`)"],
}

COMMENTS = {
    "name": "comments",
    "id": "pbc_comments001",
    "type": "base",
    "listRule": "",
    "viewRule": "",
    "createRule": "@request.auth.id != ''",
    "updateRule": "user = @request.auth.id",
    "deleteRule": "user = @request.auth.id",
    "fields": [
        {"name": "message", "type": "text", "required": True},
        {
            "name": "post",
            "type": "relation",
            "collectionId": "pbc_posts000001",
            "maxSelect": 1,
            "required": True,
            "cascadeDelete": True,
        },
        {"name": "user", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
    ],
}

NOTES = {
    "name": "notes",
    "id": "pbc_notes000001",
    "type": "base",
    "fields": [
        {"name": "text", "type": "text"},
        {
            "name": "post",
            "type": "relation",
            "collectionId": "pbc_posts000001",
            "maxSelect": 1,
            "required": True,
        },
    ],
}

POST_RECORDS: list[dict[str, Any]] = [
    {
        "id": "post1aaaaaaaaaa",
        "title": "Hello world",
        "views": 100,
        "published": True,
        "tags": ["a", "b"],
        "status": "live",
        "meta": {"tag": "x"},
        "author": USER1_ID,
        "likes": [USER1_ID, USER2_ID],
        "secret": "s1",
        "body": "<p>First <b>post</b> body text</p>",
    },
    {
        "id": "post2bbbbbbbbbb",
        "title": "Draft by one",
        "views": 5,
        "published": False,
        "tags": ["c"],
        "status": "draft",
        "author": USER1_ID,
        "secret": "s2",
    },
    {
        "id": "post3cccccccccc",
        "title": "Popular",
        "views": 900,
        "published": True,
        "tags": ["a"],
        "status": "live",
        "meta": {"tag": "y"},
        "author": USER2_ID,
        "likes": [USER1_ID],
        "due": "2025-01-15 10:00:00.000Z",
    },
    {"id": "post4dddddddddd", "title": "Draft by two", "views": 600, "published": False, "author": USER2_ID},
]

COMMENT_RECORDS: list[dict[str, Any]] = [
    {"id": "comm1aaaaaaaaaa", "message": "nice", "post": "post1aaaaaaaaaa", "user": USER2_ID},
    {"id": "comm2bbbbbbbbbb", "message": "thanks", "post": "post1aaaaaaaaaa", "user": USER1_ID},
    {"id": "comm3cccccccccc", "message": "wow", "post": "post3cccccccccc", "user": USER1_ID},
]


NOTE_RECORDS: list[dict[str, Any]] = [
    {"id": "note1aaaaaaaaaa", "text": "keeps post4 alive", "post": "post4dddddddddd"},
]


def build(pb_dir: Path) -> None:
    store = Store(pb_dir)
    store.open()
    try:
        asyncio.run(_populate(store))
    finally:
        store.close()


async def _populate(store: Store) -> None:
    superusers.upsert(store, *SUPERUSER)
    su_col = store.find("_superusers")
    assert su_col is not None
    su = RequestContext(auth=Auth(record={"id": "x"}, collection=su_col))
    users = store.find("users")
    assert users is not None
    await store.create_record(
        users,
        {
            "id": USER1_ID,
            "email": USER1[0],
            "password": USER1[1],
            "passwordConfirm": USER1[1],
            "name": "User One",
            "verified": True,
        },
        su,
    )
    await store.create_record(
        users,
        {
            "id": USER2_ID,
            "email": USER2[0],
            "password": USER2[1],
            "passwordConfirm": USER2[1],
            "name": "User Two",
            "emailVisibility": True,
        },
        su,
    )
    for data in (POSTS, COMMENTS, NOTES):
        await store.create_collection(dict(data))
    posts = store.find("posts")
    comments = store.find("comments")
    assert posts is not None and comments is not None
    for rec in POST_RECORDS:
        await store.create_record(posts, dict(rec), su)
    for rec in COMMENT_RECORDS:
        await store.create_record(comments, dict(rec), su)
    notes = store.find("notes")
    assert notes is not None
    for rec in NOTE_RECORDS:
        await store.create_record(notes, dict(rec), su)

"""The hub and its database listener on their own: who gets nudged, and when."""

from __future__ import annotations

import asyncio

import pytest

from core.app import App
from core.ui.changes import AuthChanges
from core.ui.hub import Hub
from core.ui.session import safe_redirect
from tests import fixture_data


async def test_signed_in_reaches_the_tabs_of_one_device() -> None:
    hub = Hub()
    mine, other = hub.open("dev-a", ""), hub.open("dev-b", "")
    hub.signed_in("dev-a", "token-1")
    # the token is there before the tab even wakes up
    assert mine.token == "token-1" and other.token == ""
    assert await mine.wait(0.01) is True
    assert await other.wait(0.01) is False
    hub.signed_out("dev-a")
    assert mine.token == "" and await mine.wait(0.01)


async def test_record_changes_reach_the_tabs_showing_the_record() -> None:
    hub = Hub()
    a, b = hub.open("dev-a", "t"), hub.open("dev-b", "t")
    hub.show(a, ("users", "u1"))
    hub.show(b, ("users", "u2"))
    assert hub.watched == {("users", "u1"), ("users", "u2")}
    hub.record_changed("users", "u1")
    assert await a.wait(0.01) and not await b.wait(0.01)
    hub.close(a)
    assert hub.watched == {("users", "u2")}
    hub.nudge_all()
    assert await b.wait(0.01)
    hub.shutdown()
    assert b.closed and hub.watched == frozenset()


async def test_committed_auth_record_changes_are_seen(app: App) -> None:
    hub = Hub()
    listener = AuthChanges(app.store.db, app.store.registry, hub, asyncio.get_running_loop())
    listener.attach()
    users = app.store.find("users")
    assert users is not None
    shown = hub.open("dev", "t")
    hub.show(shown, (users.id, fixture_data.USER1_ID))
    bystander = hub.open("dev", "t")
    hub.show(bystander, (users.id, fixture_data.USER2_ID))
    try:
        system = app.auth.system_context()
        await app.store.update_record(users, fixture_data.USER1_ID, {"name": "Changed"}, system)
        assert await shown.wait(2.0)
        assert not await bystander.wait(0.1)
        # a write to another collection nudges nobody
        posts = app.store.find("posts")
        assert posts is not None
        await app.store.update_record(posts, "post1aaaaaaaaaa", {"title": "x"}, system)
        assert not await shown.wait(0.1)
        await app.store.delete_record(users, fixture_data.USER1_ID, system)
        assert await shown.wait(2.0)
    finally:
        listener.detach()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ds/settings?collection=users", "/ds/settings?collection=users"),
        ("", "/ds"),
        ("https://evil.test/", "/ds"),
        ("//evil.test/x", "/ds"),
        ("/\\evil.test", "/ds"),
        ("/ds\nSet-Cookie: x", "/ds"),
        ("javascript:alert(1)", "/ds"),
    ],
)
def test_safe_redirect(target: str, expected: str) -> None:
    assert safe_redirect(target, "/ds") == expected

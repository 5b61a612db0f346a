"""GET /api/ds/sse against a real server: who hears about a login, a profile change, a password
change and a logout, and the keep-alive. Streams are read with httpx in a thread each."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.ui.conftest import UiServer, create_user
from tests.ui.helpers import DS, Event, events

PASSWORD = "stream-pass-1"


class Tab:
    """An open /api/ds/sse stream, as one browser tab holds it."""

    def __init__(self, server: UiServer, cookies: dict[str, str], page: str = "index") -> None:
        self.frames: queue.Queue[str] = queue.Queue()
        self.seen: list[Event] = []
        self.raw: list[str] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        url = f"{server.url}/api/ds/sse?collection=users&page={page}"
        self._thread = threading.Thread(target=self._read, args=(url, cookies), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the stream did not open"

    def _read(self, url: str, cookies: dict[str, str]) -> None:
        with (
            httpx.Client(cookies=cookies, timeout=10) as http,
            http.stream("GET", url, headers=DS) as resp,
        ):
            assert resp.headers["content-type"].startswith("text/event-stream")
            self._ready.set()
            block: list[str] = []
            for line in resp.iter_lines():
                if self._stop.is_set():
                    return
                if line:
                    block.append(line)
                    continue
                if block:
                    self.frames.put("\n".join(block) + "\n\n")
                    block = []

    def wait_for(self, check: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.seen:
                if check(e):
                    self.seen.remove(e)
                    return e
            try:
                frame = self.frames.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"nothing matching arrived; seen {[e.name for e in self.seen]}"
                ) from None
            self.raw.append(frame)
            self.seen.extend(events(frame))

    def auth(self, timeout: float = 10.0, **expected: Any) -> dict[str, Any]:
        """Wait for `$auth` signals with these values."""

        def check(e: Event) -> bool:
            if e.name != "datastar-merge-signals":
                return False
            auth = json.loads(e.data["signals"]).get("auth", {})
            return all(auth.get(k) == v for k, v in expected.items())

        event = self.wait_for(check, timeout)
        return dict(json.loads(event.data["signals"])["auth"])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def tabs() -> Iterator[list[Tab]]:
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        tab.close()


def device() -> str:
    return "d" + threading.get_ident().to_bytes(8, "little").hex() + str(time.monotonic_ns())[-12:]


def test_login_reaches_every_tab_of_the_browser(ui_server: UiServer, tabs: list[Tab]) -> None:
    user = create_user(ui_server, "stream1@example.com", PASSWORD, "Stream One")
    browser = device()
    tabs.append(first := Tab(ui_server, {"pb_device": browser}))
    tabs.append(second := Tab(ui_server, {"pb_device": browser}, page="settings"))
    tabs.append(stranger := Tab(ui_server, {"pb_device": device()}))
    for tab in tabs:
        assert tab.auth(signedIn=False)["email"] == ""
    second.wait_for(lambda e: "You are signed out" in e.data.get("fragments", ""))

    with httpx.Client(base_url=ui_server.url, cookies={"pb_device": browser}) as http:
        login = http.post("/api/ds/login", data={"identity": user["email"], "password": PASSWORD}, headers=DS)
        assert login.status_code == 200
        session = dict(http.cookies)
    assert first.auth(signedIn=True)["email"] == "stream1@example.com"
    assert second.auth(signedIn=True)["name"] == "Stream One"
    # the settings tab gets its body re-rendered for the new session
    second.wait_for(lambda e: 'id="profile-form"' in e.data.get("fragments", ""))
    # another browser does not sign in with this one
    with pytest.raises(AssertionError):
        stranger.auth(timeout=1.0, signedIn=True)

    # a tab opened later starts signed in, from the cookie
    tabs.append(third := Tab(ui_server, session))
    assert third.auth(signedIn=True)["id"] == user["id"]

    # a profile change through the REST API reaches the open tabs of every browser of the user
    token = session["pb_auth"]
    with httpx.Client(base_url=ui_server.url) as http:
        patched = http.patch(
            f"/api/collections/users/records/{user['id']}",
            json={"name": "Renamed"},
            headers={"Authorization": token},
        )
        assert patched.status_code == 200
    for tab in (first, second, third):
        assert tab.auth(name="Renamed")["signedIn"] is True
    second.wait_for(lambda e: 'value="Renamed"' in e.data.get("fragments", ""))

    # logging out in one tab signs the others out
    with httpx.Client(base_url=ui_server.url, cookies=session) as http:
        assert http.post("/api/ds/logout", headers=DS).status_code == 200
    for tab in (first, second, third):
        tab.auth(signedIn=False)


def test_a_password_change_elsewhere_ends_the_sessions(ui_server: UiServer, tabs: list[Tab]) -> None:
    user = create_user(ui_server, "stream2@example.com", PASSWORD, "Stream Two")
    browser = device()
    with httpx.Client(base_url=ui_server.url, cookies={"pb_device": browser}) as http:
        http.post("/api/ds/login", data={"identity": user["email"], "password": PASSWORD}, headers=DS)
        session = dict(http.cookies)
    tabs.append(tab := Tab(ui_server, session))
    tab.auth(signedIn=True)
    # another client changes the password with its own token: this browser's token dies
    with httpx.Client(base_url=ui_server.url) as http:
        other = http.post(
            "/api/collections/users/auth-with-password",
            json={"identity": user["email"], "password": PASSWORD},
        ).json()["token"]
        body = {"oldPassword": PASSWORD, "password": "stream-pass-2", "passwordConfirm": "stream-pass-2"}
        changed = http.patch(
            f"/api/collections/users/records/{user['id']}", json=body, headers={"Authorization": other}
        )
        assert changed.status_code == 200
    tab.auth(signedIn=False)


def test_the_browser_that_changes_its_password_stays_signed_in(ui_server: UiServer, tabs: list[Tab]) -> None:
    user = create_user(ui_server, "stream3@example.com", PASSWORD, "Stream Three")
    browser = device()
    with httpx.Client(base_url=ui_server.url, cookies={"pb_device": browser}) as http:
        http.post("/api/ds/login", data={"identity": user["email"], "password": PASSWORD}, headers=DS)
        tabs.append(tab := Tab(ui_server, dict(http.cookies)))
        tab.auth(signedIn=True)
        body = {"oldPassword": PASSWORD, "password": "stream-pass-3", "passwordConfirm": "stream-pass-3"}
        assert http.post("/api/ds/change-password", data=body, headers=DS).status_code == 200
    # the record change and the new token arrive together: the tab never shows signed out
    time.sleep(0.8)
    while not tab.frames.empty():
        tab.seen.extend(events(tab.frames.get()))
    states = [
        json.loads(e.data["signals"])["auth"]["signedIn"]
        for e in tab.seen
        if e.name == "datastar-merge-signals"
    ]
    assert False not in states, states


def test_keep_alive(ui_server: UiServer) -> None:
    # the server runs with CORE_UI_KEEPALIVE=0.5
    with (
        httpx.Client(timeout=5) as http,
        http.stream("GET", f"{ui_server.url}/api/ds/sse", headers=DS) as resp,
    ):
        chunks = []
        deadline = time.monotonic() + 3
        for chunk in resp.iter_text():
            chunks.append(chunk)
            if ": keep-alive" in "".join(chunks) or time.monotonic() > deadline:
                break
    assert ": keep-alive" in "".join(chunks)

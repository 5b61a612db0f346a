"""The tabs with an open /api/ds/sse stream, and who must hear about an auth change.

A tab is one page's stream. It holds the token its browser currently uses (`pb_device` groups
the tabs of one browser) and, once resolved, the auth record it shows (`subject`). Changes are
nudges, not messages: a nudged tab re-reads its auth and sends what differs, so bursts
coalesce and no change is ever applied out of order.

- login, refresh (new token in this browser): `signed_in(device, token)`;
- logout, deleted session: `signed_out(device)`;
- any committed change to an auth record (profile, verification, password, deletion, from any
  endpoint or node): `record_changed(collection_id, record_id)`;
- the data replaced under the running app (a backup restore): `nudge_all()`.

The token is updated synchronously, before the nudge is seen, so a tab woken by the record
change that a password change causes already holds the new token (no signed-out flicker).
Knows nothing of HTTP or the store: the stream endpoint does the resolving and rendering.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

_ids = itertools.count(1)


@dataclass(eq=False)
class Tab:
    device: str
    token: str
    page: str = ""
    collection: str = "users"
    subject: tuple[str, str] | None = None  # (collection id, record id) of the shown auth
    closed: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def nudge(self) -> None:
        self._wake.set()

    async def wait(self, timeout: float) -> bool:
        """True when nudged (or closed) within `timeout` seconds, False on a quiet timeout."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        self._wake.clear()
        return True


class Hub:
    def __init__(self) -> None:
        self.tabs: set[Tab] = set()
        # the subjects of all open tabs, replaced (never mutated) on every change: the database
        # listener reads it from the writer thread
        self.watched: frozenset[tuple[str, str]] = frozenset()

    def open(self, device: str, token: str, page: str = "", collection: str = "users") -> Tab:
        tab = Tab(device=device, token=token, page=page, collection=collection)
        self.tabs.add(tab)
        return tab

    def close(self, tab: Tab) -> None:
        tab.closed = True
        self.tabs.discard(tab)
        self._rewatch()

    def show(self, tab: Tab, subject: tuple[str, str] | None) -> None:
        """The tab now shows `subject` (None: a guest)."""
        if tab.subject != subject:
            tab.subject = subject
            self._rewatch()

    def _rewatch(self) -> None:
        self.watched = frozenset(t.subject for t in self.tabs if t.subject is not None)

    def signed_in(self, device: str, token: str) -> None:
        for tab in self.tabs:
            if tab.device == device:
                tab.token = token
                tab.nudge()

    def signed_out(self, device: str) -> None:
        self.signed_in(device, "")

    def record_changed(self, collection_id: str, record_id: str) -> None:
        subject = (collection_id, record_id)
        for tab in self.tabs:
            if tab.subject == subject:
                tab.nudge()

    def nudge_all(self) -> None:
        for tab in self.tabs:
            tab.nudge()

    def shutdown(self) -> None:
        for tab in list(self.tabs):
            tab.closed = True
            tab.nudge()
        self.tabs.clear()
        self._rewatch()

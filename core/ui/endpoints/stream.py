"""GET /api/ds/sse: each open page's stream of its session state.

On connect, and whenever the hub nudges the tab (a login or logout in this browser, a change
to the shown record anywhere), the stream re-reads the tab's auth and sends `$auth`; the
settings page also gets its record-dependent body re-rendered. Identical frames are not sent
again. A comment line every 15 s (CORE_UI_KEEPALIVE seconds) keeps proxies from closing an
idle stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from datastar_py.litestar import DatastarResponse
from datastar_py.sse import DatastarEvent
from litestar import Request, Response, get

from core.ui import render
from core.ui.context import Ds, hub_of
from core.ui.hub import Tab
from core.ui.views import Viewer, settings_view, viewer

KEEPALIVE_S = 15.0
KEEPALIVE = DatastarEvent(": keep-alive\n\n")  # an SSE comment: ignored by the browser


def keepalive_seconds(env: Mapping[str, str]) -> float:
    try:
        value = float(env.get("CORE_UI_KEEPALIVE") or KEEPALIVE_S)
    except ValueError:
        return KEEPALIVE_S
    return value if value > 0 else KEEPALIVE_S


@get("/api/ds/sse")
async def sse(request: Request[Any, Any, Any]) -> Response[Any]:
    ds = await Ds.of(request)
    return ds.finish(DatastarResponse(_events(ds, request.query_params.get("page", ""))))


async def _events(ds: Ds, page: str) -> AsyncIterator[DatastarEvent]:
    hub = hub_of(ds.app)
    # opened inside the stream, so the `finally` below always closes it
    tab = hub.open(ds.device, ds.token, page, ds.collection)
    keepalive = keepalive_seconds(ds.app.settings.env)
    last = DatastarEvent("")
    try:
        while not tab.closed:
            token = tab.token
            who = await viewer(ds.app, token)
            if token != tab.token:
                continue  # a newer session arrived while this one was being read
            hub.show(tab, who.subject)
            frame = await _frame(ds, tab, who)
            if frame != last:
                yield frame
                last = frame
            if not await tab.wait(keepalive) and not tab.closed:
                yield KEEPALIVE
    finally:
        hub.close(tab)


async def _frame(ds: Ds, tab: Tab, who: Viewer) -> DatastarEvent:
    events = [render.signals(who.signals())]
    if tab.page == "settings":
        collection = who.auth.collection.name if who.auth else tab.collection
        context = ds.context(viewer=who, collection=collection, **await settings_view(ds.app, who))
        events.append(render.merge("partials/settings_body.html", **context))
    return DatastarEvent("".join(events))


routes = [sse]

"""HEAD is answered as the GET of the same URL without its body.

PocketBase registers GET routes on Go's ServeMux, whose GET patterns match HEAD too: its binary
answers `HEAD /api/health` (and every other GET route) with the GET's status and headers. Load
balancers and uptime checks send HEAD, so a 404 there reads as "down". Not a route module.

A streamed GET (the realtime SSE, a large file) must not go on producing a body nobody reads:
once the headers are out, the app's `receive` says the client left, which ends every stream here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from core.api._headers import ASGIApp, Receive, Scope, Send

_DISCONNECT = {"type": "http.disconnect"}


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        answered = asyncio.Event()

        async def head_receive() -> dict[str, Any]:
            if answered.is_set():
                return _DISCONNECT
            # a stream's watcher may already wait here when the headers go out
            wait_client = asyncio.ensure_future(receive())
            wait_answer = asyncio.ensure_future(answered.wait())
            done, _ = await asyncio.wait({wait_client, wait_answer}, return_when=asyncio.FIRST_COMPLETED)
            if wait_client in done:
                wait_answer.cancel()
                return wait_client.result()
            wait_client.cancel()
            return _DISCONNECT

        async def head_send(message: dict[str, Any]) -> None:
            if answered.is_set():
                return
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                answered.set()
            else:
                await send(message)

        await self.app({**scope, "method": "GET"}, head_receive, head_send)

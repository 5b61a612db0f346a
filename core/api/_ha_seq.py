"""Read-your-writes across `--ha` nodes: `X-Core-Seq` and `X-Core-Min-Seq`.

Every response of a `--ha` node says how far its `data.db` follows the changelog
(`X-Core-Seq: N`); after a write that is at least the write's own entry. A request that carries
`X-Core-Min-Seq: N` (what a client saw on another node) waits until this node has applied N,
up to the node's write timeout, and is answered 503 if it could not catch up by then, so a
client that moves between nodes never reads older data than it wrote. Not a route module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from core.api._headers import header_value
from core.app import App
from core.errors import ApiError

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AppliedSequence:
    def __init__(self, inner: ASGIApp, app: App) -> None:
        self.inner = inner
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        node = self.app.services.get("ha") if scope["type"] == "http" else None
        if node is None:
            await self.inner(scope, receive, send)
            return
        wanted = header_value(scope, b"x-core-min-seq")
        if wanted:
            problem = await _caught_up(node, wanted)
            if problem is not None:
                await _answer(send, problem)
                return

        async def send_with_seq(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *(message.get("headers") or ()),
                    (b"x-core-seq", b"%d" % node.applied()),
                ]
            await send(message)

        await self.inner(scope, receive, send_with_seq)


async def _caught_up(node: Any, wanted: bytes) -> ApiError | None:
    try:
        seq = int(wanted)
    except ValueError:
        return ApiError(400, "X-Core-Min-Seq must be a whole number.")
    if not await node.wait_applied(seq):
        return ApiError(503, f"This node has not caught up with entry {seq} of the changelog yet; try again.")
    return None


async def _answer(send: Send, error: ApiError) -> None:
    import msgspec

    body = msgspec.json.encode(error.to_json())
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

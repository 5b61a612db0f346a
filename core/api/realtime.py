"""/api/realtime: the SSE stream (GET) and the client's subscription set (POST).

The broker lives in `app.services["realtime"]`; other modules reach SSE clients through its
`send_to_client` (the OAuth2 redirect uses it for the `@oauth2` topic).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, asgi
from litestar.types import Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from core.api._request_log import RAW_SEND
from core.api.common import core_app, json_response, no_content, read_body
from core.app import App
from core.errors import ApiError
from core.lifecycle import lifecycle_of
from core.realtime import Broker, Client, Limits
from core.realtime.bus import Bus, NatsBus
from core.realtime.client import Send as FrameSend
from core.realtime.topics import validate
from core.store.request import Auth

SERVICE = "realtime"
MAX_BODY = 32 << 20  # PocketBase's default request body limit
SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]


def broker_of(app: App) -> Broker:
    broker: Broker = app.services[SERVICE]
    return broker


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


@asgi("/api/realtime", is_mount=False, copy_scope=False)
async def realtime(scope: Scope, receive: Receive, send: Send) -> None:
    """GET streams, POST subscribes. One raw ASGI handler for both: the stream writes straight to
    the server, without a response object's per-chunk machinery in the way of every frame."""
    method = scope.get("method", "")
    if method == "GET":
        await _stream(scope, receive, send)
        return
    request: Request[Any, Any, Any] = Request(scope, receive)
    if method == "POST":
        try:
            await _buffer_body(request, scope, receive)
            response = await set_subscriptions(request)
        except ApiError as e:
            response = json_response(e.to_json(), e.status)
    else:
        response = json_response(ApiError(404, "File not found.").to_json(), 404)
    await response.to_asgi_response(app=None, request=request)(scope, receive, send)


async def _buffer_body(request: Request[Any, Any, Any], scope: Scope, receive: Receive) -> None:
    """Read the body here: Litestar's own reader needs an HTTP route handler's size limit."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ApiError(400)
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            raise ApiError(413, "Request entity too large.")
        if not message.get("more_body", False):
            break
    ScopeState.from_scope(scope).body = bytes(body)
    await request.body()  # the request now serves it from the scope (forms included)


async def _stream(scope: Scope, receive: Receive, send: Send) -> None:
    app: App = scope["app"].state.core
    broker = broker_of(app)
    client = await broker.open(_peer(scope))
    # The frames are written by a task of their own: resuming it costs one frame per event,
    # where resuming this coroutine would go back through every middleware around it.
    raw_send = scope.get("state", {}).get(RAW_SEND, send)
    writer = asyncio.create_task(_write(client, send, raw_send), name="realtime sse writer")
    watcher = asyncio.create_task(_until_disconnect(receive, client), name="realtime sse watcher")
    try:
        await asyncio.wait((writer, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        peer_left = watcher.done()
        broker.disconnect(client.id)  # also ends the writer
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    if not peer_left:  # we ended it (a time limit, shutdown): close the response properly
        with contextlib.suppress(OSError, RuntimeError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _write(client: Client, send: Send, raw_send: FrameSend) -> None:
    try:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        # every frame after the start goes straight to the server: a frame per event and client
        # is the hot path of realtime, and the middleware around `send` only acts on the start
        await client.pump(raw_send)
    except (OSError, RuntimeError):
        client.discard()  # the peer went away mid-write (ASGI servers raise either)


async def _until_disconnect(receive: Receive, client: Client) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    client.discard()


async def set_subscriptions(request: Request[Any, Any, Any]) -> Response[bytes]:
    broker = broker_of(core_app(request))
    data = await read_body(request)
    client_id = data.get("clientId", "")
    topics = data.get("subscriptions") or []
    if isinstance(topics, str):  # a form field sent once
        topics = [topics]
    if (
        not isinstance(client_id, str)
        or not isinstance(topics, list)
        or not all(isinstance(t, str) for t in topics)
    ):
        raise ApiError(400)
    errors = validate(client_id, topics)
    if errors:
        raise ApiError(400, None, errors)
    await broker.subscribe_client(
        client_id, topics, request.headers.get("authorization") or "", _peer(request.scope)
    )
    return no_content()


def limits_from_env(env: Mapping[str, str]) -> Limits:
    """CORE_REALTIME_IDLE_TIMEOUT / CORE_REALTIME_MAX_LIFETIME in seconds (tests shorten them)."""
    defaults = Limits()
    return Limits(
        idle=_seconds(env.get("CORE_REALTIME_IDLE_TIMEOUT"), defaults.idle),
        total=_seconds(env.get("CORE_REALTIME_MAX_LIFETIME"), defaults.total),
    )


def _seconds(raw: str | None, default: float) -> float:
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default


def _nats_client(app: App) -> Any:
    """The nats-py client: `app.nats` is either that client or the NatsService holding it."""
    if app.nats is None:
        return None
    return getattr(app.nats, "nc", app.nats)


def _bus(app: App) -> Bus | None:
    """With `--workers N`, the bus between the workers; a lone process needs none."""
    peers = lifecycle_of(app).peers
    nc = _nats_client(app)
    if app.settings.workers == 1 or peers is None or nc is None:
        return None
    # the leader starts first: a follower waits for the others' answers when it starts
    others = 0 if app.settings.worker == 0 else app.settings.workers - 1
    return NatsBus(nc, peers.group, expected_peers=others)


async def on_startup(app: App) -> None:
    async def resolve_auth(authorization: str) -> Auth | None:
        resolved = await app.auth.resolve(authorization)
        return resolved[0] if resolved else None

    broker = Broker(
        app.store,
        limits=limits_from_env(app.settings.env),
        bus=_bus(app),
        resolve_auth=resolve_auth,
    )
    await broker.start()
    app.services[SERVICE] = broker


async def on_shutdown(app: App) -> None:
    broker = app.services.pop(SERVICE, None)
    if broker is not None:
        await broker.stop()


routes = [realtime]

"""nats-py connections as core makes them: bounded first connect, endless reconnects, quiet logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client

from core.nats.errors import CredentialsRefused, NatsConfigError

log = logging.getLogger("core.nats")

CLAIMS_UPDATE = "$SYS.REQ.CLAIMS.UPDATE"


async def reachable(url: str, timeout: float) -> str | None:
    """None if a TCP connection to the URL's host:port opens, else why not."""
    parts = urlsplit(url)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), timeout)
    except TimeoutError:
        return f"no answer within {timeout:.0f}s"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as exc:
        return exc.strerror or str(exc)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def connect(url: str, creds_file: Path, *, name: str, source: str, timeout: float = 10.0) -> Client:
    """A nats-py connection that reconnects forever once it is up; the first connect is bounded."""
    first = url.split(",")[0]
    problem = await reachable(first, min(timeout, 3.0))
    if problem:
        raise NatsConfigError(f"{source}: cannot reach {first} ({problem})")

    nc = Client()
    refused = asyncio.Event()

    async def on_error(exc: Exception) -> None:
        if not nc.is_connected and (refused.is_set() or "authorization violation" in str(exc).lower()):
            # retrying the same credentials only repeats the answer until the timeout (and the
            # server's hang-up that follows it is no news)
            refused.set()
            return
        log.warning("NATS connection: %s", exc or type(exc).__name__)

    async def on_disconnect() -> None:
        if not (nc.is_closed or nc.is_draining):  # not when core closes it on purpose
            log.info("NATS connection lost; reconnecting")

    async def on_reconnect() -> None:
        log.info("NATS connection restored")

    connecting = asyncio.ensure_future(
        nc.connect(
            servers=url.split(","),
            user_credentials=str(creds_file),
            name=name,
            connect_timeout=2,
            reconnect_time_wait=0.5,  # type: ignore[arg-type]  # a float works; the hint is too narrow
            max_reconnect_attempts=-1,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
        )
    )
    refusal = asyncio.ensure_future(refused.wait())
    try:
        await asyncio.wait({connecting, refusal}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        connecting.cancel()
        refusal.cancel()
        await nc.close()
        raise
    refusal.cancel()
    failure: NatsConfigError | None = None
    if not connecting.done():
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError, nats.errors.Error):
            await connecting
        failure = (
            CredentialsRefused(f"{source}: {first} refused core's credentials (Authorization Violation)")
            if refused.is_set()
            else NatsConfigError(f"{source}: {first} did not accept core's credentials within {timeout:.0f}s")
        )
    elif (exc := connecting.exception()) is not None:
        if not isinstance(exc, nats.errors.Error):
            raise exc
        failure = NatsConfigError(f"{source}: {first} refused core: {exc}")
    if failure is not None:
        await nc.close()
        raise failure
    return nc


async def push_account(
    url: str, sys_creds: Path, account_jwt: str, *, name: str, source: str
) -> list[dict[str, Any]]:
    """Connect as a system user and push an account JWT to every full resolver; their replies."""
    nc = await connect(url, sys_creds, name=name, source=source, timeout=5)
    try:
        return await push_claims(nc, account_jwt)
    finally:
        await nc.close()


async def push_claims(nc: Client, account_jwt: str, *, wait: float = 0.5) -> list[dict[str, Any]]:
    """Send an account JWT to every full resolver that hears `$SYS.REQ.CLAIMS.UPDATE`; their replies.

    A plain request would return the first reply only; collecting them all tells how many servers
    stored the account. `nc` must belong to a system-account user.
    """
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    replies: list[dict[str, Any]] = []
    try:
        await nc.publish(CLAIMS_UPDATE, account_jwt.encode(), reply=inbox)
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await sub.next_msg(timeout=left)
            except nats.errors.TimeoutError:
                break
            with contextlib.suppress(ValueError):
                replies.append(json.loads(msg.data))
    finally:
        await sub.unsubscribe()
    return replies


async def subscriptions_settled(nc: Client, timeout: float = 5.0) -> None:
    """Return once the server has every subscription this connection made so far.

    `nc.flush()` does not promise that: nats-py writes its PING straight to the socket, while
    SUB commands wait in a queue for the flusher task, so the PONG can come back before the
    server saw them (a direct message sent right after then finds no subscriber). A message to
    ourselves travels behind the queued SUBs, so its return proves they were processed.
    """
    inbox = nc.new_inbox()
    arrived = asyncio.get_running_loop().create_future()

    async def on_message(_msg: Any) -> None:
        if not arrived.done():
            arrived.set_result(None)

    sub = await nc.subscribe(inbox, cb=on_message)
    try:
        await nc.publish(inbox, b"")
        await asyncio.wait_for(arrived, timeout)
    finally:
        await sub.unsubscribe()

"""The metrics listener: a minimal HTTP/1.1 server answering `GET /metrics` on its own address.

A socket of its own (not a route of the public app) so that the metrics are reachable only
where the operator binds them, typically a private address, whatever the public port exposes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from core.config import ConfigError, bind_address, parse_http

log = logging.getLogger("core.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HEADER_TIMEOUT = 10.0
MAX_HEADER = 16 * 1024


def parse_address(value: str) -> tuple[str, int]:
    """`--metrics-http`: HOST:PORT, [IPV6]:PORT, :PORT or PORT, like `--http`."""
    name, port = parse_http(value, "--metrics-http")
    if port == 0:
        raise ConfigError("--metrics-http: a port is needed (e.g. 127.0.0.1:9091)")
    return bind_address(name, port, "--metrics-http"), port


class MetricsListener:
    def __init__(self, host: str, port: int, render: Callable[[], Awaitable[str]]) -> None:
        self.host = host
        self.port = port
        self.render = render
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise ConfigError(
                f"--metrics-http: cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        log.info("metrics at http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEADER_TIMEOUT)
            if len(head) > MAX_HEADER:
                return
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            if method not in ("GET", "HEAD") or path != "/metrics":
                await self._answer(writer, 404, b"Not Found\n", "text/plain", head_only=False)
                return
            try:
                body = (await self.render()).encode()
            except Exception:
                log.exception("rendering the metrics failed")
                await self._answer(writer, 500, b"metrics unavailable\n", "text/plain", head_only=False)
                return
            await self._answer(writer, 200, body, CONTENT_TYPE, head_only=method == "HEAD")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _answer(
        writer: asyncio.StreamWriter, status: int, body: bytes, content_type: str, head_only: bool
    ) -> None:
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}[status]
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        if not head_only:
            writer.write(body)
        await writer.drain()

"""Reading SSE frames, for the in-process broker tests and the ones over a real `core serve`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.realtime import Client


@dataclass
class Frame:
    id: str
    event: str
    data: str

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class FrameParser:
    """Incremental `text/event-stream` parser (frames split across chunks are fine)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buffer += chunk
        frames = []
        while b"\n\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n\n", 1)
            fields: dict[str, str] = {}
            for line in raw.decode().split("\n"):
                key, _, value = line.partition(":")
                fields[key] = value
            frames.append(Frame(fields.get("id", ""), fields.get("event", ""), fields.get("data", "")))
        return frames


class Recorder:
    """Runs a broker client's stream the way the HTTP layer does and keeps every frame."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.frames: list[Frame] = []
        self.closed = False
        self._parser = FrameParser()
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async def send(message: dict[str, Any]) -> None:
            self.frames += self._parser.feed(message["body"])
            self._changed.set()

        try:
            await self.client.pump(send)
        finally:
            self.closed = True
            self._changed.set()

    def events(self, prefix: str = "") -> list[Frame]:
        return [f for f in self.frames if f.event != "PB_CONNECT" and f.event.startswith(prefix)]

    async def wait_for(self, predicate: Callable[[list[Frame]], bool], timeout: float = 3.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self.frames):
                if self.closed:
                    raise AssertionError(f"stream closed; frames: {self.frames}")
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

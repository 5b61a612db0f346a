"""Reading Datastar answers (beta.11 SSE events) and comparing /api/ds with PocketBase's answers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

DS = {"Datastar-Request": "true"}
U = "/api/collections/users"


@dataclass
class Event:
    name: str
    data: dict[str, str]  # dataline key -> joined lines ("fragments", "signals", "script", ...)


def events(text: str) -> list[Event]:
    out = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        if not lines:
            continue
        name = ""
        data: dict[str, list[str]] = {}
        for line in lines:
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                key, _, rest = value.partition(" ")
                data.setdefault(key, []).append(rest)
        out.append(Event(name, {k: "\n".join(v) for k, v in data.items()}))
    return out


class DsAnswer:
    """A Datastar answer, checked for the protocol basics when built."""

    def __init__(self, resp: Any) -> None:
        assert resp.status_code == 200, (resp.status_code, resp.text[:500])
        assert resp.headers["content-type"].startswith("text/event-stream"), resp.headers
        self.resp = resp
        self.text = resp.text
        self.events = events(resp.text)
        assert self.events, "no events"
        for e in self.events:
            assert e.name.startswith("datastar-merge") or e.name == "datastar-execute-script", e.name

    @property
    def signals(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for e in self.events:
            if e.name == "datastar-merge-signals":
                merged.update(json.loads(e.data["signals"]))
        return merged

    @property
    def html(self) -> str:
        return "\n".join(e.data["fragments"] for e in self.events if e.name == "datastar-merge-fragments")

    def fragment(self, element_id: str) -> str:
        for e in self.events:
            if (
                e.name == "datastar-merge-fragments"
                and f'id="{element_id}"' in e.data["fragments"].split(">", 1)[0]
            ):
                return e.data["fragments"]
        raise AssertionError(f"no fragment #{element_id} in {[self.ids()]}")

    def ids(self) -> list[str]:
        found = []
        for e in self.events:
            if e.name == "datastar-merge-fragments":
                m = re.search(r'id="([^"]+)"', e.data["fragments"])
                found.append(m.group(1) if m else "?")
        return found

    @property
    def scripts(self) -> list[str]:
        return [e.data["script"] for e in self.events if e.name == "datastar-execute-script"]

    def notice(self) -> str:
        return re.sub(r"<[^>]+>", "", self.fragment("notice")).strip()


def masked(data: Any) -> Any:
    """JSON with what differs between two equal answers (new ids, times, tokens, otpIds) masked."""
    volatile = {
        "token",
        "id",
        "created",
        "updated",
        "otpId",
        "mfaId",
        "state",
        "codeVerifier",
        "codeChallenge",
    }
    if isinstance(data, dict):
        return {
            k: ("*" if k in volatile and isinstance(v, str) and v else masked(v)) for k, v in data.items()
        }
    if isinstance(data, list):
        return [masked(v) for v in data]
    return data


def body_of(resp: Any) -> Any:
    return resp.json() if resp.content else None


def same_answer(pb: Any, ds: Any, mask: bool = True) -> None:
    """/api/ds answered what the PocketBase endpoint answered (status and JSON)."""
    assert ds.status_code == pb.status_code, (pb.status_code, pb.text[:400], ds.status_code, ds.text[:400])
    a, b = body_of(pb), body_of(ds)
    if mask:
        a, b = masked(a), masked(b)
    assert a == b, f"\nPocketBase: {a}\n/api/ds:    {b}"
    if pb.status_code >= 400:
        assert set(b) == {"status", "message", "data"}


def set_cookies(resp: Any) -> dict[str, str]:
    """name -> the full Set-Cookie header of each cookie the answer sets."""
    out = {}
    for header in resp.headers.get_list("set-cookie"):
        out[header.split("=", 1)[0]] = header
    return out

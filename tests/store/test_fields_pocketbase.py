"""Differential check against the real PocketBase 0.40.6 binary (slow: starts a server).

Sends the same inputs the table tests use to a fresh PocketBase and compares its answers with
ours: the record's value after create, or the `data.<field>` error; and the collection errors
for the same field options. Skipped when the binary is not installed.
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

from core.store.fields import FieldError, UploadedFile, ValidationContext, field_type
from core.store.schema import Collection, Field
from tests.store import test_fields as tables
from tests.store.test_fields_options import CASES as OPTION_CASES
from tests.store.test_fields_options import TARGET, option_errors

pytestmark = pytest.mark.slow


def _binary() -> str | None:
    found = shutil.which("pocketbase") or str(Path(sys.executable).parent / "pocketbase")
    return found if Path(found).exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    binary = _binary()
    if binary is None:
        pytest.skip("pocketbase binary not installed")
    data = tmp_path_factory.mktemp("pocketbase")
    subprocess.run(
        [binary, "superuser", "upsert", "a@a.com", "password123", "--dir", str(data)],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    # automigrate off: otherwise every collection change is written as a migration file
    cmd = [binary, "serve", "--http", f"127.0.0.1:{port}", "--dir", str(data), "--automigrate=false"]
    proc = subprocess.Popen(
        [*cmd, "--migrationsDir", str(data / "pb_migrations")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("pocketbase did not start")
            time.sleep(0.1)
        auth = client.post(
            "/api/collections/_superusers/auth-with-password",
            json={"identity": "a@a.com", "password": "password123"},
        )
        client.headers["Authorization"] = auth.json()["token"]
        yield client
        client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _collection(pb: httpx.Client, name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    pb.delete(f"/api/collections/{name}")
    created = pb.post("/api/collections", json={"name": name, "type": "base", "fields": fields})
    assert created.status_code == 200, created.text
    return dict(created.json())


def _theirs(pb: httpx.Client, collection: str, name: str, raw: Any) -> Any:
    body = pb.post(f"/api/collections/{collection}/records", json={name: raw}).json()
    return body["data"].get(name) if "data" in body else body[name]


def _ours(field: Field, raw: Any, existing: set[str], targets: dict[str, Collection]) -> Any:
    ft = field_type(field.type)
    value = ft.normalize(field, raw)
    context = ValidationContext(
        collection=Collection(name="diff"),
        is_new=True,
        old=None,
        find_collection=targets.get,
        existing_ids=lambda _c, ids: {i for i in ids if i in existing},
    )
    try:
        ft.validate(field, value, context)
    except FieldError as e:
        return e.to_json()
    return ft.from_db(field, ft.to_db(field, value))


TABLES: list[tuple[Field, list[Any]]] = [
    (tables.TEXT, [raw for raw, _ in tables.TEXT_CASES]),
    (Field("tr", "text", required=True), [None, "", "  "]),
    (Field("t0", "text"), ["x" * 5000, "x" * 5001, 1e21, -0.0, 0.1]),
    (tables.NUMBER, [raw for raw, _ in tables.NUMBER_CASES]),
    (Field("ni", "number", options={"onlyInt": True}), [1.5, "2.0", 3, 1e20]),
    (Field("nb", "number", options={"min": 0.00001, "max": 1000000}), [2000000, 0.000001, 5]),
    (Field("b", "bool"), ["true", "1", "on", "yes", "t", "tRue", "", 2, -1, None, [1], " true"]),
    (
        Field("e", "email", options={"onlyDomains": ["a.com"]}),
        ["a@a.com", "a@b.com", "x", "a@A.com", "é@a.com"],
    ),
    (
        Field("u", "url", options={"exceptDomains": ["b.com"]}),
        ["https://b.com", "https://c.com", "x", "a.com/x", "HTTP://A.COM"],
    ),
    (Field("ed", "editor", options={"maxSize": 10}), ["<p>hi</p>", "x" * 11, "é" * 6, 12, None]),
    (
        Field("d", "date"),
        [
            "2024-01-02T03:04:05+02:00",
            "2024-01-02 03:04",
            "3:04PM",
            1704164645,
            "garbage",
            None,
            "2024-02-29",
            "2023-02-29",
            "2024-01-02 03:04:05.1+0530",
            "Mon, 02 Jan 2006 15:04:05 -0700",
            "Jan  2 15:04:05.123",
        ],
    ),
    (
        Field("dm", "date", options={"min": "2020-01-01 00:00:00.000Z", "max": "2021-01-01 00:00:00.000Z"}),
        ["2019-12-31 23:59:59.999Z", "2020-06-01", "2021-01-01 00:00:00.001Z"],
    ),
    (
        Field("s", "select", options={"values": ["a", "b", "c", "1"]}),
        ["a", "z", ["a", "b"], '["a","b"]', 1, True, {"a": 1}],
    ),
    (
        Field("sm", "select", options={"values": ["a", "b", "c", "d", "1"], "maxSelect": 3}),
        [["b", "a", "b"], ["a", "b", "c", "d"], ["a", "z"], "", [["a"]], '["a"', [1]],
    ),
    (
        Field("j", "json", options={"maxSize": 20}),
        ["1", "01", "1e3", "[1,", "x" * 30, {"k": "v" * 30}, 1e20, "null", {"b": 1, "a": 2}],
    ),
    (Field("jr", "json", required=True), [None, 0, "", "[]", "{}", " ", '""']),
    # {"lon": "1", "lat": 2} is left out: PocketBase answers it with lat 2 or lat 0 from one run
    # to the next (the request body is a Go map, decoded into the point in random key order)
    (
        Field("g", "geoPoint"),
        [{"lon": 1, "lat": 2}, {"lon": 181, "lat": 2}, "abc", '{"lon":3,"lat":4}'],
    ),
    (
        Field("p", "password", options={"min": 3, "max": 6, "pattern": "^[a-z]+$"}),
        ["ab", "abcdefg", "ABC", "abc", 123, ""],
    ),
]


def test_values_match_pocketbase(pb: httpx.Client) -> None:
    mismatches = []
    for field, inputs in TABLES:
        # one collection per field, so a required neighbour never fails the create
        _collection(
            pb,
            "diff",
            [{"name": field.name, "type": field.type, "required": field.required, **field.options}],
        )
        for raw in inputs:
            theirs, ours = _theirs(pb, "diff", field.name, raw), _ours(field, raw, set(), {})
            if theirs != ours:
                mismatches.append((field.name, raw, theirs, ours))
    assert mismatches == []


def test_relations_match_pocketbase(pb: httpx.Client) -> None:
    target = _collection(pb, "tgt", [{"name": "x", "type": "text"}])
    ids = [pb.post("/api/collections/tgt/records", json={"x": str(i)}).json()["id"] for i in range(4)]
    a, b, c, d = ids
    spec = {"collectionId": target["id"], "maxSelect": 3, "minSelect": 2}
    _collection(
        pb,
        "rel",
        [
            {"name": "r", "type": "relation", "collectionId": target["id"]},
            {"name": "rm", "type": "relation", **spec},
        ],
    )
    targets = {target["id"]: Collection(name="tgt", id=target["id"])}
    cases: list[tuple[Field, Any]] = [
        (Field("r", "relation", options={"collectionId": target["id"]}), raw)
        for raw in (a, "nonexist", [a, b], "", [a, "nonexist"])
    ] + [
        (Field("rm", "relation", options=spec), raw)
        for raw in (a, [a, b], [a, b, c, d], [a, a], ["n1", "n2"], [])
    ]
    mismatches = []
    for field, raw in cases:
        theirs, ours = _theirs(pb, "rel", field.name, raw), _ours(field, raw, set(ids), targets)
        if theirs != ours:
            mismatches.append((field.name, raw, theirs, ours))
    assert mismatches == []


def test_option_errors_match_pocketbase(pb: httpx.Client) -> None:
    target = _collection(pb, "tgt2", [{"name": "x", "type": "text"}])
    mismatches = []
    for spec, _ in OPTION_CASES:
        if spec.get("collectionId") == "pbc_view" or "autogeneratePattern" in spec and "min" in spec:
            continue  # needs a view collection / random outcome
        sent = {**spec, "collectionId": target["id"]} if spec.get("collectionId") == TARGET else spec
        pb.delete("/api/collections/opt")
        body = pb.post(
            "/api/collections", json={"name": "opt", "type": "base", "fields": [{"name": "x", **sent}]}
        ).json()
        theirs = body.get("data", {}).get("fields", {}).get("1", {})
        ours = option_errors(spec)  # TARGET exists in the test's own collection lookup
        if theirs != ours:
            mismatches.append((spec, theirs, ours))
    assert mismatches == []


def test_uploads_match_pocketbase(pb: httpx.Client) -> None:
    from tests.store.test_fields_file import PNG

    specs: list[dict[str, Any]] = [
        {"name": "f", "type": "file"},
        {"name": "fm", "type": "file", "maxSelect": 3, "maxSize": 100},
        {"name": "fi", "type": "file", "mimeTypes": ["image/png", "text/plain"]},
    ]
    _collection(pb, "files", specs)
    fields = {s["name"]: Field.from_json(s) for s in specs}
    cases: list[tuple[str, list[tuple[str, bytes]]]] = [
        ("f", [("Hello World.txt", b"hello")]),
        ("f", [("noext", PNG)]),
        ("fm", [("big.txt", b"x" * 101)]),
        ("fm", [(f"{i}.txt", b"x") for i in range(4)]),
        ("fi", [("img.png", PNG)]),
        ("fi", [("fake.png", b"GIF89a" + b"0" * 20)]),
        ("fi", [("t.png", b"plain text here")]),
    ]
    mismatches = []
    for name, uploads in cases:
        files = [(name, (filename, data, "application/octet-stream")) for filename, data in uploads]
        body = pb.post("/api/collections/files/records", files=files).json()
        theirs = body["data"].get(name) if "data" in body else body[name]
        raw = [UploadedFile(filename, "application/octet-stream", data) for filename, data in uploads]
        ours = _ours(fields[name], raw, set(), {})
        # stored names carry random parts: compare their shape, and error codes
        if isinstance(theirs, dict) and isinstance(ours, dict):
            same = theirs["code"] == ours["code"] and theirs.get("params") == ours.get("params")
        else:
            same = _name_shape(theirs) == _name_shape(ours)
        if not same:
            mismatches.append((name, [u[0] for u in uploads], theirs, ours))
    assert mismatches == []


def _name_shape(value: Any) -> Any:
    import re

    if isinstance(value, list):
        return [_name_shape(v) for v in value]
    shape = re.sub(r"_[a-z0-9]{10}(?=\.|$)", "_R", str(value))
    return re.sub(r"^(.{0,2}?)[a-z0-9]{10}_R", r"\1R_R", shape)  # short bases get random padding


def test_primary_keys_match_pocketbase(pb: httpx.Client) -> None:
    custom = {"name": "id", "type": "text", "primaryKey": True, "required": True, "system": True}
    custom |= {"pattern": "^.+$", "min": 1, "max": 30, "autogeneratePattern": "[a-z]{10}"}
    cases = [
        (
            tables.ID,
            "ids",
            ["abc", "ABCDEFGHIJKLMNO", "abcdefghijklmn!", "abcdefghijklmno", "abcdefghijklmn\n"],
        ),
        (tables.CUSTOM_ID, "ids2", ["a.b", "a b", "CON", "nul", "lpt9", "ok1", "a:b", "Ab", "x" * 31]),
    ]
    _collection(pb, "ids", [{"name": "x", "type": "text"}])
    _collection(pb, "ids2", [custom])
    mismatches = []
    for field, collection, inputs in cases:
        for raw in inputs:
            theirs, ours = _theirs(pb, collection, "id", raw), _ours(field, raw, set(), {})
            if theirs != ours:
                mismatches.append((collection, raw, theirs, ours))
    assert mismatches == []

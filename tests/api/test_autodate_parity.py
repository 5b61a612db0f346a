"""Differential: which autodate fields a create and an update stamp, on the pocketbase 0.40.6
binary and on core. PocketBase's AutodateField.Intercept sets the time on create only when
onCreate is on, and on update only when onUpdate is on: an onUpdate-only field stays "" until the
first update. Skipped when the binary is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import DEFAULT_EMAIL, DEFAULT_PASSWORD, pocketbase_bin, start_core, start_pocketbase

pytestmark = pytest.mark.slow
try:
    pocketbase_bin()
except RuntimeError as missing:
    pytest.skip(str(missing), allow_module_level=True)

STAMPS = {
    "name": "stamps",
    "type": "base",
    "createRule": "",
    "updateRule": "",
    "viewRule": "",
    "fields": [
        {"name": "title", "type": "text"},
        {"name": "made", "type": "autodate", "onCreate": True, "onUpdate": False},
        {"name": "touched", "type": "autodate", "onCreate": False, "onUpdate": True},
        {"name": "both", "type": "autodate", "onCreate": True, "onUpdate": True},
    ],
}


def _stamps(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    with httpx.Client(base_url=url, timeout=30) as http:
        login = {"identity": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD}
        token = http.post("/api/collections/_superusers/auth-with-password", json=login).json()["token"]
        http.post("/api/collections", json=STAMPS, headers={"Authorization": token}).raise_for_status()
        created = http.post("/api/collections/stamps/records", json={"title": "a", "touched": "2020-01-01"})
        created.raise_for_status()
        rid = created.json()["id"]
        updated = http.patch(f"/api/collections/stamps/records/{rid}", json={"title": "b"})
        updated.raise_for_status()
        return created.json(), updated.json()


def _shape(created: dict[str, Any], updated: dict[str, Any]) -> dict[str, Any]:
    """Which fields are set, and which an update changed."""
    names = ("made", "touched", "both")
    return {
        "set on create": [n for n in names if created[n]],
        "changed by update": [n for n in names if updated[n] != created[n]],
    }


def test_autodates_stamp_like_pocketbase(tmp_path: Path) -> None:
    shapes = {}
    for name, start in (("pocketbase", start_pocketbase), ("core", start_core)):
        with start(tmp_path / name) as server:
            shapes[name] = _shape(*_stamps(server.url))
    assert shapes["pocketbase"] == {
        "set on create": ["made", "both"],
        "changed by update": ["touched", "both"],
    }
    assert shapes["core"] == shapes["pocketbase"]

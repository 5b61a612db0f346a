"""Differential check: the same superuser-service requests against the real PocketBase and core.

Both servers start fresh (the pocketbase 0.40.6 binary and `python -m core`); every case is sent
to both in the same order and the status and JSON bodies must be equal (volatile values such as
timestamps and ids are compared by shape). Skipped when the binary is missing.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import start_core, start_pocketbase, superuser_client

pytestmark = pytest.mark.slow

if not ((Path(sys.prefix) / "bin" / "pocketbase").exists() or shutil.which("pocketbase")):
    pytest.skip("the pocketbase binary is not installed", allow_module_level=True)

Case = tuple[str, str, Any]  # method, url, JSON body (None = no body; bytes = raw)

CASES: list[Case] = [
    ("GET", "/api/settings", None),
    ("PATCH", "/api/settings", {"meta": {"appName": "Parity", "senderName": "Ops"}, "logs": {"maxDays": 9}}),
    ("PATCH", "/api/settings", {"smtp": {"port": -1}}),
    ("PATCH", "/api/settings", {"smtp": {"enabled": True, "host": "", "port": 0}}),
    ("PATCH", "/api/settings", {"smtp": {"port": "25"}}),
    ("PATCH", "/api/settings", {"smtp": {"host": "bad host!", "authMethod": "XX", "localName": "x y"}}),
    ("PATCH", "/api/settings", {"meta": {"appURL": "not a url", "senderAddress": "x", "appName": ""}}),
    ("PATCH", "/api/settings", {"meta": {"accentColor": "#12345"}}),
    ("PATCH", "/api/settings", {"meta": {"accentColor": "#zzzzzz"}}),
    ("PATCH", "/api/settings", {"batch": {"maxRequests": -1, "timeout": -1, "maxBodySize": -5}}),
    ("PATCH", "/api/settings", {"batch": {"enabled": True, "maxRequests": 0}}),
    ("PATCH", "/api/settings", {"batch": {"timeout": 1.5}}),
    ("PATCH", "/api/settings", {"logs": {"maxDays": -1, "maxDataSize": -1}}),
    (
        "PATCH",
        "/api/settings",
        {
            "rateLimits": {
                "rules": [{"label": "bad label!", "maxRequests": 0, "duration": 0, "audience": "x"}]
            }
        },
    ),
    (
        "PATCH",
        "/api/settings",
        {
            "rateLimits": {
                "rules": [
                    {"label": "/api/", "maxRequests": 1, "duration": 1},
                    {"label": "/api/", "maxRequests": 1, "duration": 1},
                ]
            }
        },
    ),
    (
        "PATCH",
        "/api/settings",
        {
            "rateLimits": {
                "rules": [
                    {"label": "x", "maxRequests": 1, "duration": 1},
                    {"label": "x", "maxRequests": -1, "duration": 1},
                ]
            }
        },
    ),
    ("PATCH", "/api/settings", {"rateLimits": {"enabled": True, "rules": []}}),
    (
        "PATCH",
        "/api/settings",
        {
            "rateLimits": {
                "rules": [{"label": "users:auth", "maxRequests": 5, "duration": 10, "audience": "@guest"}]
            }
        },
    ),
    ("PATCH", "/api/settings", {"rateLimits": {"excludedIPs": ["bad", ""]}}),
    ("PATCH", "/api/settings", {"superuserIPs": ["1.2.3.4/33"]}),
    ("PATCH", "/api/settings", {"backups": {"cron": "*/0 * * * *"}}),
    ("PATCH", "/api/settings", {"backups": {"cron": "1/2 * * * *"}}),
    ("PATCH", "/api/settings", {"backups": {"cron": "a * * * *"}}),
    ("PATCH", "/api/settings", {"backups": {"cron": "* * * * *", "cronMaxKeep": 0}}),
    ("PATCH", "/api/settings", {"s3": {"enabled": True}, "backups": {"s3": {"endpoint": "nope"}}}),
    ("PATCH", "/api/settings", {"trustedProxy": None, "smtp": {"password": "hidden"}}),
    ("PATCH", "/api/settings", b"[1,2]"),
    ("POST", "/api/settings/test/s3", {}),
    ("POST", "/api/settings/test/s3", {"filesystem": "nope"}),
    ("POST", "/api/settings/test/s3", {"filesystem": "storage"}),
    ("POST", "/api/settings/apple/generate-client-secret", {}),
    (
        "POST",
        "/api/settings/apple/generate-client-secret",
        {"clientId": "c", "teamId": "t", "keyId": "k", "privateKey": "bad", "duration": 16000000},
    ),
    ("GET", "/api/crons", None),
    ("POST", "/api/crons/nope", None),
    ("POST", "/api/crons/__pbDBOptimize__", None),
    ("GET", "/api/logs?filter=(((", None),
    ("GET", "/api/logs?filter=updated%3D%22%22", None),
    ("GET", "/api/logs?sort=nope", None),
    ("GET", "/api/logs/stats?filter=(((", None),
    ("GET", "/api/logs/missing", None),
    ("GET", "/api/backups", None),
    ("POST", "/api/backups", {"name": "My.zip"}),
    ("POST", "/api/backups", {"name": "a.b.zip"}),
    ("POST", "/api/backups", {"name": "parity.zip"}),
    ("POST", "/api/backups", {"name": "parity.zip"}),
    ("POST", "/api/backups", {"name": 123}),
    ("GET", "/api/backups", None),
    ("DELETE", "/api/backups/missing.zip", None),
    ("POST", "/api/backups/missing.zip/restore", None),
    ("DELETE", "/api/backups/parity.zip", None),
    ("POST", "/api/sql", {"query": "select 1 as a, 2.5 as b, null as c, 1234567.5 as d"}),
    ("POST", "/api/sql", {"query": "select id, email, verified from _superusers where 0"}),
    ("POST", "/api/sql", {"query": "select * from nope"}),
    ("POST", "/api/sql", {"query": "selec 1"}),
    ("POST", "/api/sql", {"query": "insert into _params (id, value) values ('settings', 'x')"}),
    ("POST", "/api/sql", {}),
    ("POST", "/api/sql", {"query": "   "}),
    ("POST", "/api/sql", {"query": 123}),
]

# messages that legitimately differ (refusing S3 once it is enabled, say) are not in CASES;
# PocketBase appends the raw filesystem error (with server paths) to a failed delete, core does not
RAW_FS_ERROR = re.compile(r" Raw error: \\n\[key: [^\"]*")
VOLATILE = re.compile(r'"(modified|created|id|execTime|size)":("[^"]*"|[0-9.]+)')
BACKUP_TIME = re.compile(r"_\d{14}\.zip")


def _normalize(text: str) -> str:
    text = RAW_FS_ERROR.sub("", text)
    return BACKUP_TIME.sub("_<time>.zip", VOLATILE.sub(r'"\1":"<v>"', text))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with (
        start_pocketbase(tmp_path_factory.mktemp("pb")) as pb,
        start_core(tmp_path_factory.mktemp("core")) as core,
    ):
        yield superuser_client(pb), superuser_client(core)


def _send(http: httpx.Client, case: Case) -> tuple[int, str]:
    method, url, body = case
    if isinstance(body, bytes):
        resp = http.request(method, url, content=body, headers={"Content-Type": "application/json"})
    else:
        resp = http.request(method, url, json=body)
    return resp.status_code, _normalize(resp.text.strip())


def test_same_answers(servers: tuple[httpx.Client, httpx.Client]) -> None:
    pb, core = servers
    mismatches = []
    for case in CASES:
        expected, got = _send(pb, case), _send(core, case)
        if expected != got:
            mismatches.append(
                f"{case[0]} {case[1]} {case[2]!r}\n  pocketbase: {expected}\n  core:       {got}"
            )
    assert not mismatches, "\n".join(mismatches)

"""/api/logs scenarios and the request logger (what is recorded, what never is)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.app import App
from core.logs.entry import build_entry, raw_details, real_ip, redact_query
from core.store.settings import default_settings
from tests.scenario import Scenario, run_scenario
from tests.services.helpers import eventually, flush_logs

LOGS = [
    {
        "id": "log1aaaaaaaaaaa",
        "level": 0,
        "message": "GET /api/health",
        "data": {"type": "request", "method": "GET", "url": "/api/health", "status": 200, "auth": ""},
        "created": "2025-01-15 10:05:00.000Z",
    },
    {
        "id": "log2bbbbbbbbbbb",
        "level": 8,
        "message": "PATCH /api/settings",
        "data": {
            "type": "request",
            "method": "PATCH",
            "url": "/api/settings",
            "status": 400,
            "auth": "_superusers",
        },
        "created": "2025-01-15 10:45:00.000Z",
    },
    {
        "id": "log3ccccccccccc",
        "level": 8,
        "message": "GET /api/nope",
        "data": {"type": "request", "method": "GET", "url": "/api/nope", "status": 404, "auth": ""},
        "created": "2025-01-15 12:00:00.000Z",
    },
]


@pytest.fixture
def seeded(app: App) -> App:
    app.services["logs"].db.insert_sync(LOGS)
    return app


def no_logs(app: App, _resp: Any) -> None:
    assert (
        app.services["logs"].db.db.read_sync(lambda c: c.execute("SELECT count(*) FROM _logs").fetchone())[0]
        == 0
    )


SCENARIOS = [
    Scenario("list as guest", "GET", "/api/logs", 401),
    Scenario("list as user", "GET", "/api/logs", 403, auth="user1"),
    Scenario("view as guest", "GET", "/api/logs/log1aaaaaaaaaaa", 401),
    Scenario("stats as user", "GET", "/api/logs/stats", 403, auth="user2"),
    Scenario("delete as user", "DELETE", "/api/logs", 403, auth="user1"),
    Scenario(
        "list",
        "GET",
        "/api/logs",
        200,
        auth="superuser",
        contains=[
            '"page":1,"perPage":30,"totalItems":3,"totalPages":1',
            '{"id":"log1aaaaaaaaaaa","created":"2025-01-15 10:05:00.000Z","data":{"auth":"","method":"GET",'
            '"status":200,"type":"request","url":"/api/health"},"message":"GET /api/health","level":0}',
        ],
        not_contains=['"updated"'],
    ),
    Scenario(
        "filter by json path and sort",
        "GET",
        "/api/logs?filter=data.status%20%3E%3D%20400&sort=-created",
        200,
        auth="superuser",
        contains=['"totalItems":2', '"items":[{"id":"log3ccccccccccc"', '{"id":"log2bbbbbbbbbbb"'],
        not_contains=["log1aaaaaaaaaaa"],
    ),
    Scenario(
        "filter by level and message",
        "GET",
        "/api/logs?filter=level%3D8%20%26%26%20message~%27settings%27",
        200,
        auth="superuser",
        contains=['"totalItems":1', "log2bbbbbbbbbbb"],
    ),
    Scenario(
        "sort by rowid desc, paged, skipTotal",
        "GET",
        "/api/logs?sort=-@rowid&perPage=1&page=2&skipTotal=1",
        200,
        auth="superuser",
        contains=['"items":[{"id":"log2bbbbbbbbbbb"', '"totalItems":-1,"totalPages":-1'],
    ),
    Scenario(
        "fields",
        "GET",
        "/api/logs?fields=id,data.status&sort=created&perPage=1",
        200,
        auth="superuser",
        contains=['"items":[{"id":"log1aaaaaaaaaaa","data":{"status":200}}]', '"totalItems":3'],
    ),
    Scenario(
        "unknown filter field",
        "GET",
        "/api/logs?filter=updated%3D%22%22",
        400,
        auth="superuser",
        contains=['"data":{}'],
    ),
    Scenario("broken filter", "GET", "/api/logs?filter=(((", 400, auth="superuser"),
    Scenario("unknown sort field", "GET", "/api/logs?sort=nope", 400, auth="superuser"),
    Scenario(
        "no other collection", "GET", "/api/logs?filter=@collection.users.id%3D%22x%22", 400, auth="superuser"
    ),
    Scenario(
        "view",
        "GET",
        "/api/logs/log2bbbbbbbbbbb",
        200,
        auth="superuser",
        contains=['{"id":"log2bbbbbbbbbbb","created":"2025-01-15 10:45:00.000Z","data":{', '"level":8}'],
    ),
    Scenario(
        "view missing",
        "GET",
        "/api/logs/missing",
        404,
        auth="superuser",
        contains=['"message":"The requested resource wasn\'t found."'],
    ),
    Scenario(
        "stats hourly",
        "GET",
        "/api/logs/stats",
        200,
        auth="superuser",
        contains=[
            '[{"date":"2025-01-15 10:00:00.000Z","total":2},{"date":"2025-01-15 12:00:00.000Z","total":1}]'
        ],
    ),
    Scenario(
        "stats filtered",
        "GET",
        "/api/logs/stats?filter=data.status%3D404",
        200,
        auth="superuser",
        contains=['[{"date":"2025-01-15 12:00:00.000Z","total":1}]'],
    ),
    Scenario(
        "stats bad filter",
        "GET",
        "/api/logs/stats?filter=(((",
        400,
        auth="superuser",
        contains=['"message":"Invalid filter format."'],
    ),
    Scenario("delete all", "DELETE", "/api/logs", 204, auth="superuser", after=no_logs),
    # PocketBase's logFilterFields: plain columns and data.* json paths, nothing else (0.40.6)
    *[
        Scenario(f"not a log field: {q}", "GET", "/api/logs?" + q, 400, auth="superuser")
        for q in (
            "filter=message%3Alower~%22get%22",
            "filter=level%3Alower%3D0",
            "filter=%40request.method%3D%22GET%22",
            "sort=level%3Alower",
            "sort=data.-1",
            "page=x",
        )
    ],
    Scenario(
        "a modifier inside a data path is part of the key",
        "GET",
        "/api/logs?filter=data.status%3Alower%3D404",
        200,
        auth="superuser",
        contains=['"totalItems":0'],
    ),
    Scenario(
        "json path or/and mix with parentheses",
        "GET",
        "/api/logs?filter=data.method%3D%22GET%22%20%26%26%20(data.status%3D200%20%7C%7C%20data.status%3D404)&sort=data.url",
        200,
        auth="superuser",
        contains=['"totalItems":2', '"items":[{"id":"log1aaaaaaaaaaa"', '{"id":"log3ccccccccccc"'],
    ),
    Scenario(
        "any-of like on a json path",
        "GET",
        "/api/logs?filter=data.url%20%3F~%20%22nope%22",
        200,
        auth="superuser",
        contains=['"totalItems":1', "log3ccccccccccc"],
    ),
    Scenario(
        "a json path SQLite rejects",
        "GET",
        "/api/logs?filter=data..k%3D1",
        400,
        auth="superuser",
        contains=['"message":"Something went wrong while processing your request."'],
    ),
    Scenario(
        "stats with a json path SQLite rejects",
        "GET",
        "/api/logs/stats?filter=data..k%3D1",
        400,
        auth="superuser",
        contains=['"message":"Failed to generate logs stats."'],
    ),
    Scenario(
        "stats with a field not in the list",
        "GET",
        "/api/logs/stats?filter=message%3Alower~%22get%22",
        400,
        auth="superuser",
        contains=['"message":"Invalid filter format."'],
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_logs_api(client: Any, seeded: App, tokens: dict[str, str], scenario: Scenario) -> None:
    await run_scenario(client, seeded, tokens, scenario)


async def _last_log(client: Any, app: App, tokens: dict[str, str], flt: str) -> dict[str, Any]:
    flush_logs(app)
    resp = await client.get(
        "/api/logs", params={"filter": flt, "sort": "-@rowid"}, headers={"Authorization": tokens["superuser"]}
    )
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert items, f"no log matches {flt}"
    return items[0]


async def test_requests_are_logged_without_secrets(client: Any, app: App, tokens: dict[str, str]) -> None:
    token = tokens["user1"]
    await client.get(
        "/api/collections/users/records?token=SeCrEt-file-token&code=oauth-code&perPage=5",
        headers={"Authorization": token, "Referer": "http://ref.example/", "User-Agent": "test-agent"},
    )
    item = await _last_log(client, app, tokens, 'data.url ~ "records"')
    data = item["data"]
    assert item["level"] == 0
    assert item["message"] == "GET /api/collections/users/records?token=***&code=***&perPage=5"
    assert data["url"] == "/api/collections/users/records?token=***&code=***&perPage=5"
    assert data["method"] == "GET" and data["status"] == 200 and data["type"] == "request"
    assert data["auth"] == "users" and "authId" not in data
    assert data["referer"] == "http://ref.example/" and data["userAgent"] == "test-agent"
    assert data["userIP"] == data["remoteIP"]
    assert isinstance(data["execTime"], float)
    stored = json.dumps(item)
    for secret in ("SeCrEt", "oauth-code", token):
        assert secret not in stored


async def test_request_bodies_are_never_logged(client: Any, app: App, tokens: dict[str, str]) -> None:
    await client.post(
        "/api/collections/_superusers/auth-with-password",
        json={"identity": "admin@example.com", "password": "wrong-password-xyz"},
    )
    item = await _last_log(client, app, tokens, 'data.url ~ "auth-with-password"')
    assert item["level"] == 8 and item["data"]["status"] == 400
    assert item["data"]["error"] == "Failed to authenticate."
    assert "wrong-password-xyz" not in json.dumps(item)


async def test_error_details_are_logged(client: Any, app: App, tokens: dict[str, str]) -> None:
    await client.patch(
        "/api/settings", json={"smtp": {"port": -1}}, headers={"Authorization": tokens["superuser"]}
    )
    item = await _last_log(client, app, tokens, 'data.url = "/api/settings" && data.status = 400')
    assert item["data"]["error"] == "An error occurred while saving the new settings."
    assert item["data"]["details"] == {"smtp": {"port": "must be no less than 0"}}
    assert item["data"]["auth"] == "_superusers"


async def test_settings_control_what_is_logged(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    resp = await client.patch("/api/settings", headers=su, json={"logs": {"logIP": False, "logAuthId": True}})
    assert resp.status_code == 200
    await client.get("/api/collections/posts/records?x=ip", headers={"Authorization": tokens["user2"]})
    data = (await _last_log(client, app, tokens, 'data.url ~ "x=ip"'))["data"]
    assert "userIP" not in data and "remoteIP" not in data
    assert data["authId"] == "user2bbbbbbbbbb"

    # minLevel 8: only failed requests are kept
    await client.patch("/api/settings", headers=su, json={"logs": {"minLevel": 8}})
    await client.get("/api/collections/posts/records?x=info")
    await client.get("/api/collections/nope/records?x=error")
    flush_logs(app)

    def logged_urls() -> list[str]:
        rows = app.services["logs"].db.db.read_sync(
            lambda c: c.execute("SELECT json_extract(data, '$.url') FROM _logs").fetchall()
        )
        return [r[0] for r in rows if "x=" in r[0]]

    # the settings change also drops the INFO logs already written (in the background)
    urls = await eventually(
        lambda: (u := logged_urls()) and not any("x=info" in x or "x=ip" in x for x in u) and u,
        what="cleanup",
    )
    assert "/api/collections/nope/records?x=error" in urls

    # maxDays 0: nothing is logged any more
    await client.patch("/api/settings", headers=su, json={"logs": {"maxDays": 0, "minLevel": 0}})
    await client.get("/api/collections/nope/records?x=off")
    flush_logs(app)
    resp = await client.get("/api/logs", params={"filter": 'data.url ~ "x=off"'}, headers=su)
    assert resp.json()["totalItems"] == 0


async def test_successful_logs_reads_are_not_logged(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    await client.get("/api/logs", headers=su)
    await client.get("/api/logs/missing", headers=su)
    flush_logs(app)
    resp = await client.get("/api/logs", params={"filter": 'data.url ~ "/api/logs"'}, headers=su)
    assert [i["data"]["url"] for i in resp.json()["items"]] == ["/api/logs/missing"]


async def test_logs_cleanup_job_drops_old_logs(
    client: Any, app: App, seeded: App, tokens: dict[str, str]
) -> None:
    from tests.services.helpers import wait_crons

    su = {"Authorization": tokens["superuser"]}
    resp = await client.post("/api/crons/__pbLogsCleanup__", headers=su)
    assert resp.status_code == 204
    await wait_crons(app)
    resp = await client.get("/api/logs", params={"filter": 'id ~ "log"'}, headers=su)
    assert resp.json()["totalItems"] == 0  # the seeded logs are from 2025, older than 5 days


async def test_logging_is_buffered_off_the_request_path(
    client: Any, app: App, tokens: dict[str, str]
) -> None:
    service = app.services["logs"]
    service.flush()
    before = service.db.db.read_sync(lambda c: c.execute("SELECT count(*) FROM _logs").fetchone()[0])
    for _ in range(5):
        await client.get("/api/collections/nope/records")
    # nothing written yet: the entries wait in memory until the flusher (or this flush) runs
    assert len(service._buffer) >= 5
    assert service.flush() >= 5
    after = service.db.db.read_sync(lambda c: c.execute("SELECT count(*) FROM _logs").fetchone()[0])
    assert after - before >= 5


# -- pure pieces -----------------------------------------------------------------------------------
def test_redact_query() -> None:
    assert redact_query("token=abc&x=1") == "token=***&x=1"
    assert redact_query("TOKEN=abc&code=z&state=s") == "TOKEN=***&code=***&state=s"
    assert redact_query("x=1&flag&token") == "x=1&flag&token"
    assert redact_query("") == ""


def test_real_ip_uses_trusted_headers() -> None:
    headers = {"x-forwarded-for": "203.0.113.7, 10.0.0.1", "x-real-ip": "bad"}
    assert real_ip("10.0.0.2", headers, {"headers": []}) == "10.0.0.2"
    assert real_ip("10.0.0.2", headers, {"headers": ["X-Forwarded-For"]}) == "10.0.0.1"
    assert (
        real_ip("10.0.0.2", headers, {"headers": ["X-Forwarded-For"], "useLeftmostIP": True}) == "203.0.113.7"
    )
    assert real_ip("10.0.0.2", headers, {"headers": ["X-Real-IP"]}) == "10.0.0.2"


def test_raw_details() -> None:
    data = {
        "a": {"code": "validation_required", "message": "Cannot be blank."},
        "b": {"0": {"code": "x", "message": "Bad."}},
    }
    assert raw_details(data) == {"a": "cannot be blank", "b": {"0": "bad"}}


def test_build_entry_cuts_long_values_and_respects_max_data_size() -> None:
    settings = default_settings()
    settings["logs"]["maxDataSize"] = 300
    entry = build_entry(
        method="get",
        path="/api/x",
        query="",
        status=400,
        exec_ms=1.5,
        headers={"user-agent": "u" * 3000},
        remote_ip="127.0.0.1",
        auth_collection="",
        auth_id="",
        error={"message": "Boom.", "data": {"f": {"code": "c", "message": "M."}}},
        settings=settings,
    )
    assert entry["level"] == 8 and entry["message"] == "GET /api/x"
    assert entry["data"]["details"] is None
    assert len(json.dumps(entry["data"])) < 600

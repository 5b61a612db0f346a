"""POST /api/sql scenarios (shapes checked against the pocketbase 0.40.6 binary)."""

from __future__ import annotations

from typing import Any

import pytest

from core.api.sql import go_float
from core.app import App
from tests.scenario import Scenario, run_scenario

VALIDATION = '"message":"An error occurred while validating the submitted data."'


def count(app: App, sql: str) -> int:
    return int(app.store.db.read_sync(lambda c: c.execute(sql).fetchone()[0]))


SCENARIOS = [
    Scenario("guest", "POST", "/api/sql", 401, body={"query": "select 1"}),
    Scenario("user", "POST", "/api/sql", 403, auth="user1", body={"query": "select 1"}),
    Scenario(
        "select constants",
        "POST",
        "/api/sql",
        200,
        auth="superuser",
        body={"query": "select 1 as a, 2.5 as b, null as c, 1234567.5 as d, 't' as e"},
        contains=[
            '"affectedRows":0,"columns":[{"name":"a","type":"","nullable":true},{"name":"b","type":"","nullable":true},'
            '{"name":"c","type":"","nullable":true},{"name":"d","type":"","nullable":true},{"name":"e","type":"","nullable":true}],'
            '"rows":[["1","2.5",null,"1.2345675e+06","t"]]}'
        ],
    ),
    Scenario(
        "select from a table with declared types",
        "POST",
        "/api/sql",
        200,
        auth="superuser",
        body={"query": "select id, views, published from posts order by views limit 2"},
        contains=[
            '"columns":[{"name":"id","type":"TEXT","nullable":true},{"name":"views","type":"NUMERIC","nullable":true},'
            '{"name":"published","type":"BOOLEAN","nullable":true}]',
            '"rows":[["post2bbbbbbbbbb","5","0"],["post1aaaaaaaaaa","100","1"]]',
        ],
    ),
    Scenario(
        "empty result keeps the columns",
        "POST",
        "/api/sql",
        200,
        auth="superuser",
        body={"query": "select id from posts where 0"},
        contains=['"columns":[{"name":"id","type":"TEXT","nullable":true}],"rows":[]'],
    ),
    Scenario(
        "the last statement wins",
        "POST",
        "/api/sql",
        200,
        auth="superuser",
        body={"query": "select 1; select 2"},
        contains=['"columns":[{"name":"2","type":"","nullable":true}],"rows":[["2"]]'],
    ),
    Scenario(
        "at most 1000 rows",
        "POST",
        "/api/sql",
        200,
        auth="superuser",
        body={
            "query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 1500) SELECT x FROM c"
        },
        contains=['["999"],["1000"]]}'],
        not_contains=['["1001"]'],
    ),
    Scenario(
        "update through the writer",
        "POST",
        "/api/sql",
        200,
        auth="superuser",
        body={"query": "update posts set views = views + 1 where published = 1"},
        contains=['"affectedRows":2,"columns":[],"rows":[]'],
        after=lambda app, _r: (
            count(app, "select sum(views) from posts") == 1607 or pytest.fail("not written")
        ),
    ),
    Scenario(
        "write without a known prefix",
        "POST",
        "/api/sql",
        200,
        auth="superuser",
        body={"query": "replace into _params (id, value, created, updated) values ('x', '1', '', '')"},
        contains=['"affectedRows":1'],
        after=lambda app, _r: (
            count(app, "select count(*) from _params where id = 'x'") == 1 or pytest.fail("lost")
        ),
    ),
    Scenario(
        "multi-statement write is one transaction",
        "POST",
        "/api/sql",
        400,
        auth="superuser",
        body={"query": "delete from comments; insert into nope values (1)"},
        contains=[
            '"message":"Failed to execute query. Raw error:\\nSQL logic error: no such table: nope (1)."'
        ],
        after=lambda app, _r: (
            count(app, "select count(*) from comments") == 3 or pytest.fail("partial write")
        ),
    ),
    Scenario(
        "transaction control is refused",
        "POST",
        "/api/sql",
        400,
        auth="superuser",
        body={"query": "BEGIN"},
        contains=[
            '"message":"Failed to execute query. Raw error:\\nauthorization denied: not authorized (23)."'
        ],
    ),
    Scenario(
        "attach is refused",
        "POST",
        "/api/sql",
        400,
        auth="superuser",
        body={"query": "attach ':memory:' as x"},
    ),
    Scenario(
        "unknown table",
        "POST",
        "/api/sql",
        400,
        auth="superuser",
        body={"query": "select * from nope"},
        contains=[
            '"data":{},"message":"Failed to execute query. Raw error:\\nSQL logic error: no such table: nope (1)."'
        ],
    ),
    Scenario(
        "missing query",
        "POST",
        "/api/sql",
        400,
        auth="superuser",
        body={},
        contains=[VALIDATION, '"query":{"code":"validation_required","message":"Cannot be blank."}'],
    ),
    Scenario(
        "blank query",
        "POST",
        "/api/sql",
        400,
        auth="superuser",
        body={"query": "   "},
        contains=['"message":"Failed to execute query. Raw error:\\nempty query."'],
    ),
    Scenario(
        "query too long",
        "POST",
        "/api/sql",
        400,
        auth="superuser",
        body={"query": "select '" + "a" * 5000 + "'"},
        contains=[
            '"query":{"code":"validation_length_too_long","message":"The length must be no more than 5000.","params":{"max":5000,"min":0}}'
        ],
    ),
    Scenario(
        "query not a string",
        "POST",
        "/api/sql",
        400,
        auth="superuser",
        body={"query": 123},
        contains=['"message":"An error occurred while loading the submitted data."'],
    ),
    Scenario("body not an object", "POST", "/api/sql", 400, auth="superuser", body=b"[]"),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_sql(client: Any, app: App, tokens: dict[str, str], scenario: Scenario) -> None:
    await run_scenario(client, app, tokens, scenario)


async def test_schema_changes_reach_the_registry(client: Any, app: App, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    resp = await client.post(
        "/api/sql",
        headers=su,
        json={"query": "update _collections set listRule = NULL where name = 'comments'"},
    )
    assert resp.status_code == 200
    col = app.store.find("comments")
    assert col is not None and col.listRule is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (100.0, "100"),
        (2.5, "2.5"),
        (1234567.5, "1.2345675e+06"),
        (123456.0, "123456"),
        (0.00001, "1e-05"),
        (0.0001, "0.0001"),
        (1e21, "1e+21"),
        (-0.0, "-0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (float("inf"), "+Inf"),
    ],
)
def test_go_float(value: float, text: str) -> None:
    assert go_float(value) == text

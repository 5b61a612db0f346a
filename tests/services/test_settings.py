"""/api/settings scenarios; the expected bodies were checked against the pocketbase 0.40.6 binary."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.app import App
from tests.scenario import Scenario, run_scenario

SAVE_FAILED = '"message":"An error occurred while saving the new settings."'
LOAD_FAILED = '"message":"An error occurred while loading the submitted data."'
REQUIRED = '{"code":"validation_required","message":"Cannot be blank."}'


def min_error(n: int) -> str:
    return (
        '{"code":"validation_min_greater_equal_than_required",'
        f'"message":"Must be no less than {n}.","params":{{"threshold":{n}}}}}'
    )


def stored(app: App) -> dict[str, Any]:
    return app.store.settings.get()


def unchanged(app: App, _resp: Any) -> None:
    assert stored(app)["meta"]["appName"] == "Acme"
    assert stored(app)["smtp"]["port"] == 587


def saved(check: Any) -> Any:
    def after(app: App, _resp: Any) -> None:
        assert check(stored(app)), json.dumps(stored(app))

    return after


SCENARIOS = [
    # -- access ------------------------------------------------------------------------------
    Scenario("get as guest", "GET", "/api/settings", 401, contains=['"data":{}']),
    Scenario(
        "get as user",
        "GET",
        "/api/settings",
        403,
        auth="user1",
        contains=['"message":"The authorized record is not allowed to perform this action."'],
    ),
    Scenario(
        "patch as guest", "PATCH", "/api/settings", 401, body={"meta": {"appName": "x"}}, after=unchanged
    ),
    Scenario("patch as user", "PATCH", "/api/settings", 403, auth="user2", body={"meta": {"appName": "x"}}),
    Scenario("test s3 as guest", "POST", "/api/settings/test/s3", 401, body={"filesystem": "storage"}),
    Scenario("apple secret as user", "POST", "/api/settings/apple/generate-client-secret", 403, auth="user1"),
    # -- get -----------------------------------------------------------------------------------
    Scenario(
        "get as superuser",
        "GET",
        "/api/settings",
        200,
        auth="superuser",
        contains=[
            '{"superuserIPs":[],"smtp":{"enabled":false,"port":587,"host":"smtp.example.com","username":"",'
            '"authMethod":"","tls":false,"localName":""}',
            '"backups":{"cron":"","cronMaxKeep":3,"s3":{"enabled":false,"bucket":"","region":"","endpoint":"",'
            '"accessKey":"","forcePathStyle":false}}',
            '"meta":{"accentColor":"#1055c9","appName":"Acme","appURL":"http://localhost:8090",'
            '"senderName":"Support","senderAddress":"support@example.com","hideControls":false}',
            '{"label":"*:auth","audience":"","duration":3,"maxRequests":2}',
            '"trustedProxy":{"headers":[],"useLeftmostIP":false}',
            '"batch":{"enabled":false,"maxRequests":50,"timeout":3,"maxBodySize":0}',
            '"logs":{"maxDataSize":0,"maxDays":5,"minLevel":0,"logIP":true,"logAuthId":false}',
        ],
        not_contains=['"password"', '"secret"'],
    ),
    Scenario(
        "get with fields",
        "GET",
        "/api/settings?fields=meta.appName,logs",
        200,
        auth="superuser",
        contains=[
            '"logs":{"maxDataSize":0,"maxDays":5,"minLevel":0,"logIP":true,"logAuthId":false}',
            '"meta":{"appName":"Acme"}',
        ],
        not_contains=['"smtp"', '"accentColor"'],
    ),
    # -- patch: success ----------------------------------------------------------------------
    Scenario(
        "patch deep-merges",
        "PATCH",
        "/api/settings",
        200,
        auth="superuser",
        body={"meta": {"appName": "Demo"}, "logs": {"maxDays": 7}},
        contains=['"appName":"Demo"', '"appURL":"http://localhost:8090"', '"maxDays":7', '"minLevel":0'],
        after=saved(lambda s: s["meta"]["appName"] == "Demo" and s["logs"]["logIP"] is True),
    ),
    Scenario(
        "secrets are stored but never returned",
        "PATCH",
        "/api/settings",
        200,
        auth="superuser",
        body={
            "smtp": {"enabled": True, "host": "mail.example.com", "port": 25, "password": "smtp-pass"},
            "s3": {"secret": "s3-secret"},
            "backups": {"s3": {"secret": "backup-secret"}},
        },
        contains=['"host":"mail.example.com"', '"port":25'],
        not_contains=["smtp-pass", "s3-secret", "backup-secret", '"password"', '"secret"'],
        after=saved(
            lambda s: (
                s["smtp"]["password"] == "smtp-pass"
                and s["s3"]["secret"] == "s3-secret"
                and s["backups"]["s3"]["secret"] == "backup-secret"
            )
        ),
    ),
    Scenario(
        "arrays are replaced",
        "PATCH",
        "/api/settings",
        200,
        auth="superuser",
        body={
            "rateLimits": {
                "rules": [{"label": "users:auth", "maxRequests": 5, "duration": 10, "audience": "@guest"}]
            }
        },
        contains=['"rules":[{"label":"users:auth","audience":"@guest","duration":10,"maxRequests":5}]'],
    ),
    Scenario(
        "null resets to the zero value",
        "PATCH",
        "/api/settings",
        200,
        auth="superuser",
        body={"trustedProxy": None, "backups": {"cronMaxKeep": None}},
        contains=['"trustedProxy":{"headers":[],"useLeftmostIP":false}', '"cronMaxKeep":0'],
    ),
    Scenario(
        "unknown keys are ignored",
        "PATCH",
        "/api/settings",
        200,
        auth="superuser",
        body={"nope": 1, "meta": {"nope": 2}},
        not_contains=['"nope"'],
        after=saved(lambda s: "nope" not in s and "nope" not in s["meta"]),
    ),
    Scenario(
        "empty body", "PATCH", "/api/settings", 200, auth="superuser", body=b"", contains=['"appName":"Acme"']
    ),
    Scenario(
        "valid cron macro and ips",
        "PATCH",
        "/api/settings",
        200,
        auth="superuser",
        body={"backups": {"cron": "@daily"}, "superuserIPs": ["127.0.0.1", "10.0.0.0/8", "::1"]},
        contains=['"cron":"@daily"', '"superuserIPs":["127.0.0.1","10.0.0.0/8","::1"]'],
    ),
    # -- patch: loading errors -----------------------------------------------------------------
    Scenario(
        "body is an array",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body=b"[1,2]",
        contains=[LOAD_FAILED],
    ),
    Scenario(
        "body is garbage",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body=b"garbage",
        contains=[LOAD_FAILED],
    ),
    Scenario(
        "string port",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"smtp": {"port": "25"}},
        contains=[LOAD_FAILED, '"data":{}'],
        after=unchanged,
    ),
    Scenario(
        "float int",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"batch": {"timeout": 1.5}},
        contains=[LOAD_FAILED],
    ),
    Scenario(
        "object as string",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"meta": "x"},
        contains=[LOAD_FAILED],
    ),
    Scenario(
        "bool as string",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"batch": {"enabled": "true"}},
        contains=[LOAD_FAILED],
    ),
    Scenario(
        "list as string",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"superuserIPs": "1.2.3.4"},
        contains=[LOAD_FAILED],
    ),
    # -- patch: validation errors (all reported at once, nothing saved) --------------------------
    Scenario(
        "invalid smtp port",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"smtp": {"port": -1}, "meta": {"appName": "Changed"}},
        contains=[SAVE_FAILED, f'"data":{{"smtp":{{"port":{min_error(0)}}}}}'],
        after=unchanged,
    ),
    Scenario(
        "smtp enabled without host and port",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"smtp": {"enabled": True, "host": "", "port": 0}},
        contains=[f'"smtp":{{"host":{REQUIRED},"port":{REQUIRED}}}'],
    ),
    Scenario(
        "smtp bad host, auth method and local name",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"smtp": {"host": "bad host!", "authMethod": "XX", "localName": "bad host!"}},
        contains=[
            '"authMethod":{"code":"validation_in_invalid","message":"Must be a valid value."}',
            '"host":{"code":"validation_is_host","message":"Must be a valid IP address or DNS name."}',
            '"localName":{"code":"validation_is_host"',
        ],
    ),
    Scenario(
        "app url must be a url",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"meta": {"appURL": "not a url"}},
        contains=['"meta":{"appURL":{"code":"validation_is_url","message":"Must be a valid URL."}}'],
    ),
    Scenario(
        "meta required fields and formats",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={
            "meta": {"appName": "", "senderName": "x" * 256, "senderAddress": "x", "accentColor": "#12345"}
        },
        contains=[
            '"accentColor":{"code":"validation_length_invalid","message":"The length must be exactly 7.","params":{"max":7,"min":7}}',
            f'"appName":{REQUIRED}',
            '"senderAddress":{"code":"validation_is_email","message":"Must be a valid email address."}',
            '"senderName":{"code":"validation_length_out_of_range","message":"The length must be between 1 and 255.","params":{"max":255,"min":1}}',
        ],
    ),
    Scenario(
        "accent color must be hex",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"meta": {"accentColor": "#zzzzzz"}},
        contains=[
            '"accentColor":{"code":"validation_is_hex_color","message":"Must be a valid hexadecimal color code."}'
        ],
    ),
    Scenario(
        "batch limits must be >= 0",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"batch": {"maxRequests": -1, "timeout": -1, "maxBodySize": -5}},
        contains=[
            f'"batch":{{"maxBodySize":{min_error(0)},"maxRequests":{min_error(0)},"timeout":{min_error(0)}}}'
        ],
    ),
    Scenario(
        "batch enabled needs limits",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"batch": {"enabled": True, "maxRequests": 0}},
        contains=[f'"batch":{{"maxRequests":{REQUIRED}}}'],
    ),
    Scenario(
        "logs limits must be >= 0",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"logs": {"maxDays": -1, "maxDataSize": -1}},
        contains=[f'"logs":{{"maxDataSize":{min_error(0)},"maxDays":{min_error(0)}}}'],
    ),
    Scenario(
        "rate limit rule fields",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={
            "rateLimits": {
                "rules": [{"label": "bad label!", "maxRequests": 0, "duration": 0, "audience": "x"}]
            }
        },
        contains=[
            '"rateLimits":{"rules":{"0":{"audience":{"code":"validation_in_invalid","message":"Must be a valid value."},'
            f'"duration":{REQUIRED},"label":{{"code":"validation_match_invalid","message":"Must be in a valid format."}},'
            f'"maxRequests":{REQUIRED}}}}}}}'
        ],
    ),
    Scenario(
        "rate limit conflicting labels",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={
            "rateLimits": {
                "rules": [
                    {"label": "a", "maxRequests": 1, "duration": 1},
                    {"label": "a", "maxRequests": 1, "duration": 1, "audience": "@guest"},
                ]
            }
        },
        contains=[
            '"rules":{"1":{"label":{"code":"validation_conflicting_rate_limit_rule","message":"Rate limit rule '
            'configuration with label a already exists or conflicts with another rule.","params":{"label":"a"}}}}'
        ],
    ),
    Scenario(
        "rule errors win over conflicts",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={
            "rateLimits": {
                "rules": [
                    {"label": "x", "maxRequests": 1, "duration": 1},
                    {"label": "x", "maxRequests": -1, "duration": 1},
                ]
            }
        },
        contains=[f'"rules":{{"1":{{"maxRequests":{min_error(1)}}}}}'],
        not_contains=["conflicting"],
    ),
    Scenario(
        "rate limits enabled need rules",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"rateLimits": {"enabled": True, "rules": []}},
        contains=[f'"rateLimits":{{"rules":{REQUIRED}}}'],
    ),
    Scenario(
        "invalid ips",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"superuserIPs": ["bad", ""], "rateLimits": {"excludedIPs": ["1.2.3.4/33"]}},
        contains=[
            '"superuserIPs":{"0":{"code":"validation_invlaid_ip_or_subnet","message":"Invalid IP or CIDR subnet."},'
            f'"1":{REQUIRED}}}',
            '"excludedIPs":{"0":{"code":"validation_invlaid_ip_or_subnet"',
        ],
    ),
    Scenario(
        "invalid backups cron",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"backups": {"cron": "*/0 * * * *"}},
        contains=[
            '"backups":{"cron":{"code":"validation_invalid_cron","message":"Invalid segment step boundary - the step '
            'must be between 1 and the 59."}}'
        ],
    ),
    Scenario(
        "backups cron needs cronMaxKeep",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"backups": {"cron": "* * * * *", "cronMaxKeep": 0}},
        contains=[f'"backups":{{"cronMaxKeep":{REQUIRED}}}'],
    ),
    Scenario(
        "s3 enabled needs its fields",
        "PATCH",
        "/api/settings",
        400,
        auth="superuser",
        body={"s3": {"enabled": True}, "backups": {"s3": {"endpoint": "nope"}}},
        contains=[
            f'"s3":{{"accessKey":{REQUIRED},"bucket":{REQUIRED},"endpoint":{REQUIRED},"region":{REQUIRED},"secret":{REQUIRED}}}',
            '"backups":{"s3":{"endpoint":{"code":"validation_is_url","message":"Must be a valid URL."}}}',
        ],
    ),
    # -- test s3 -------------------------------------------------------------------------------
    Scenario(
        "test s3 without filesystem",
        "POST",
        "/api/settings/test/s3",
        400,
        auth="superuser",
        body={},
        contains=['"data":{"filesystem":' + REQUIRED + "}", '"message":"Failed to test the S3 filesystem."'],
    ),
    Scenario(
        "test s3 unknown filesystem",
        "POST",
        "/api/settings/test/s3",
        400,
        auth="superuser",
        body={"filesystem": "nope"},
        contains=['"filesystem":{"code":"validation_in_invalid","message":"Must be a valid value."}'],
    ),
    Scenario(
        "test s3 disabled",
        "POST",
        "/api/settings/test/s3",
        400,
        auth="superuser",
        body={"filesystem": "backups"},
        contains=[
            '"message":"Failed to test the S3 filesystem. Raw error: \\nS3 storage filesystem is not enabled."'
        ],
    ),
    Scenario(
        "test s3 bad body",
        "POST",
        "/api/settings/test/s3",
        400,
        auth="superuser",
        body=b"[1]",
        contains=[LOAD_FAILED],
    ),
    # -- apple client secret -------------------------------------------------------------------
    Scenario(
        "apple secret empty",
        "POST",
        "/api/settings/apple/generate-client-secret",
        400,
        auth="superuser",
        body={},
        contains=[
            '"message":"Invalid client secret data."',
            f'"data":{{"clientId":{REQUIRED},"duration":{REQUIRED},"keyId":{REQUIRED},"privateKey":{REQUIRED},"teamId":{REQUIRED}}}',
        ],
    ),
    Scenario(
        "apple secret invalid fields",
        "POST",
        "/api/settings/apple/generate-client-secret",
        400,
        auth="superuser",
        body={"clientId": "c", "teamId": "t", "keyId": "k", "privateKey": "bad", "duration": 16000000},
        contains=[
            '"duration":{"code":"validation_max_less_equal_than_required","message":"Must be no greater than 15777000.","params":{"threshold":15777000}}',
            '"keyId":{"code":"validation_length_invalid","message":"The length must be exactly 10.","params":{"max":10,"min":10}}',
            '"privateKey":{"code":"validation_match_invalid","message":"Must be in a valid format."}',
        ],
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_settings(client: Any, app: App, tokens: dict[str, str], scenario: Scenario) -> None:
    await run_scenario(client, app, tokens, scenario)


async def test_s3_enabled_reports_no_s3_client(client: Any, tokens: dict[str, str]) -> None:
    su = {"Authorization": tokens["superuser"]}
    s3 = {
        "enabled": True,
        "bucket": "b",
        "region": "r",
        "endpoint": "https://s3.example.com",
        "accessKey": "k",
        "secret": "s",
    }
    resp = await client.patch("/api/settings", headers=su, json={"s3": s3})
    assert resp.status_code == 200, resp.text
    resp = await client.post("/api/settings/test/s3", headers=su, json={"filesystem": "storage"})
    assert resp.status_code == 400
    assert "S3 storage is not available in this server yet" in resp.json()["message"]


async def test_apple_client_secret_is_an_es256_jwt(client: Any, tokens: dict[str, str]) -> None:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    body = {
        "clientId": "com.example.app",
        "teamId": "TEAM123456",
        "keyId": "KEY1234567",
        "privateKey": pem,
        "duration": 3600,
    }
    resp = await client.post(
        "/api/settings/apple/generate-client-secret",
        headers={"Authorization": tokens["superuser"]},
        json=body,
    )
    assert resp.status_code == 200, resp.text
    secret = resp.json()["secret"]
    assert jwt.get_unverified_header(secret) == {"alg": "ES256", "kid": "KEY1234567", "typ": "JWT"}
    claims = jwt.decode(secret, key.public_key(), algorithms=["ES256"], audience="https://appleid.apple.com")
    assert claims["sub"] == "com.example.app" and claims["iss"] == "TEAM123456"
    assert claims["exp"] - claims["iat"] == 3600

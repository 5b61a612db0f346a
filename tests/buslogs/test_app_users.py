"""Permission templates and the user JWTs issued for app users (pure parts)."""

from __future__ import annotations

import pytest

from core.nats import app_users, jwt, nkey
from core.nats.auth import create_bundle


@pytest.mark.parametrize(
    "template",
    [
        "app.users.{{id}}.>",
        "app.public.>",
        "app.{{collectionName}}.*.inbox",
        "chat.rooms.*",
        "pb.events.posts.>",
    ],
)
def test_valid_templates(template: str) -> None:
    assert app_users.check_subject_template(template) is None


@pytest.mark.parametrize(
    ("template", "why"),
    [
        (">", "first token"),
        ("*.x", "first token"),
        ("{{id}}.x", "first token"),
        ("core.>", "reserved"),
        ("$SYS.>", "reserved"),
        ("app..x", "empty tokens"),
        ("app.x*", "whole tokens"),
        ("app.>.x", "last token"),
        ("app.{{email}}", "Unknown placeholder"),
        ("app. x", "spaces"),
        ("", "non-empty"),
    ],
)
def test_invalid_templates(template: str, why: str) -> None:
    problem = app_users.check_subject_template(template)
    assert problem is not None and why in problem


def test_parse_permissions_names_the_list() -> None:
    with pytest.raises(app_users.InvalidPermission) as caught:
        app_users.parse_permissions({"publish": ["app.ok"], "subscribe": ["core.>"]})
    assert caught.value.field == "subscribe"
    with pytest.raises(app_users.InvalidPermission):
        app_users.parse_permissions({"publish": "app.>"})


def test_render_refuses_values_that_would_split_a_token() -> None:
    assert (
        app_users.render("a.{{id}}.{{collectionName}}", record_id="r1", collection_name="users")
        == "a.r1.users"
    )
    for bad in ("a.b", "*", ">", "x y", ""):
        with pytest.raises(ValueError):
            app_users.render("a.{{id}}", record_id=bad, collection_name="users")


def test_denied_subjects_keep_core_and_sys_even_when_granted() -> None:
    assert app_users.denied_subjects(["app.x.>"]) == ["core.>", "$SYS.>", "pb.>", "$JS.>", "$KV.>", "$O.>"]
    # naming pb.* or $JS.* explicitly is the grant; core.> and $SYS.> are never lifted
    assert app_users.denied_subjects(["pb.events.posts.>", "$JS.API.INFO"]) == [
        "core.>",
        "$SYS.>",
        "$KV.>",
        "$O.>",
    ]


def test_lifetime_never_outlives_the_auth_token() -> None:
    assert app_users.lifetime(None, 900, now=1000) == 900
    assert app_users.lifetime(1000 + 60, 900, now=1000) == 60
    assert app_users.lifetime(1000 + 9000, 900, now=1000) == 900
    assert app_users.lifetime(990, 900, now=1000) <= 0


def test_issued_jwt_is_signed_by_the_app_account_with_rendered_permissions() -> None:
    bundle = create_bundle()
    app = bundle.account("app")
    perms = app_users.Permissions(
        publish=("app.users.{{id}}.>",), subscribe=("app.users.{{id}}.>", "app.public.>")
    )
    issued = app_users.issue(
        app.seed, perms, record_id="abc123", collection_name="users", expires_in=60, now=5000
    )
    claims = jwt.decode(issued.jwt, kind="user")
    assert claims["iss"] == app.public_key
    assert claims["sub"] == nkey.public_key(issued.seed)
    assert claims["exp"] == 5060
    nats = claims["nats"]
    assert nats["pub"]["allow"] == ["app.users.abc123.>"]
    assert nats["sub"]["allow"] == ["app.users.abc123.>", "app.public.>"]
    for subject in ("core.>", "pb.>", "$JS.>", "$SYS.>"):
        assert subject in nats["pub"]["deny"] and subject in nats["sub"]["deny"]


def test_nothing_granted_stays_nothing() -> None:
    # an empty allow list in a NATS JWT means "everything": it must never be issued as such
    bundle = create_bundle()
    issued = app_users.issue(
        bundle.account("app").seed,
        app_users.Permissions(subscribe=("app.public.>",)),
        record_id="r",
        collection_name="users",
        expires_in=60,
    )
    nats = jwt.decode(issued.jwt, kind="user")["nats"]
    assert nats["pub"]["allow"] and all(not s.startswith("app.") for s in nats["pub"]["allow"])

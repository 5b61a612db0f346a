"""Generated create/update/delete and batch bodies, as JSON and as multipart.

Every answer: no 5xx, errors in PocketBase's shape. Every answer that is not a 2xx: no row
count, row content or stored file changed (`checks.guarded`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.bodies import batch_bodies, batch_forms, form_bodies, raw_json, write_bodies, write_query
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.checks import check_unchanged, guarded, snapshot
from tests.fuzz.schema import COLLECTIONS, POSTS, Fixture

AUTHS = ("guest", "member", "editor", "superuser", "superuser")
JSON_TYPES = ("application/json", "application/json", "application/json; charset=utf-8", "text/plain", None)


@st.composite
def targets(draw: st.DrawFn, fx: Fixture) -> tuple[str, str, str]:
    """(auth, collection, method + url) for one record write."""
    auth = draw(st.sampled_from(AUTHS))
    collection = draw(st.sampled_from((POSTS, POSTS, *COLLECTIONS)))
    base = f"/api/collections/{collection}/records"
    ids = fx.ids[collection]
    record = draw(st.sampled_from((*ids, *ids, "nope", "x" * 15, fx.ids[POSTS][0])))
    # a trailing slash skips the hot path (core/api/_hot.py): both paths get the same input
    slash = draw(st.sampled_from(("", "", "", "/")))
    method, url = draw(
        st.sampled_from(
            (("POST", base + slash),) * 3
            + (("PATCH", f"{base}/{record}{slash}"),) * 2
            + (("DELETE", f"{base}/{record}{slash}"),)
        )
    )
    return auth, collection, f"{method} {url}"


def _send(
    fx: Fixture,
    kind: str,
    auth: str,
    target: str,
    params: dict[str, str],
    content: bytes,
    content_type: str | None,
) -> None:
    method, url = target.split(" ", 1)
    route = "batch" if url == "/api/batch" else "create" if method == "POST" else "record"
    headers = {}
    token = fx.tokens[auth]
    if token:
        headers["Authorization"] = token
    if content_type is not None:
        headers["Content-Type"] = content_type
    with guarded(fx, f"{kind} {method} {route}", write=True) as exchange:
        resp = fx.http.request(method, url, params=params, content=content, headers=headers)
        exchange.record(resp, content, f"auth={auth} content-type={content_type!r}")


@fuzz_settings(examples=120)
@given(data=st.data())
def test_json_write(fx: Fixture, data: st.DataObject) -> None:
    auth, collection, target = data.draw(targets(fx), "target")
    if data.draw(st.booleans(), "raw"):
        content = data.draw(raw_json(collection, fx.ids), "body")
    else:
        content = json.dumps(data.draw(write_bodies(collection, fx.ids), "body")).encode()
    content_type = data.draw(st.sampled_from(JSON_TYPES), "content_type")
    _send(fx, "json", auth, target, data.draw(write_query(), "query"), content, content_type)


@fuzz_settings(examples=100)
@given(data=st.data())
def test_multipart_write(fx: Fixture, data: st.DataObject) -> None:
    auth, collection, target = data.draw(targets(fx), "target")
    content, content_type = data.draw(form_bodies(collection, fx.ids), "form")
    _send(fx, "multipart", auth, target, data.draw(write_query(), "query"), content, content_type)


@fuzz_settings(examples=60)
@given(auth=st.sampled_from(AUTHS), body=st.data())
def test_batch_json(fx: Fixture, auth: str, body: st.DataObject) -> None:
    content: Any = body.draw(batch_bodies(fx.ids), "batch")
    _send(fx, "json", auth, "POST /api/batch", {}, json.dumps(content).encode(), "application/json")


@fuzz_settings(examples=50)
@given(auth=st.sampled_from(AUTHS), body=st.data())
def test_batch_multipart(fx: Fixture, auth: str, body: st.DataObject) -> None:
    content, content_type = body.draw(batch_forms(fx.ids), "form")
    _send(fx, "multipart", auth, "POST /api/batch", {}, content, content_type)


def test_guard_sees_a_write(fx: Fixture, raising: None) -> None:
    """The guard is not vacuous: a row and a file written beside a failed answer are reported."""
    before = snapshot(fx)
    created = fx.superuser.post(
        f"/api/collections/{POSTS}/records",
        data={"title": "guard"},
        files={"cover": ("g.txt", b"x", "text/plain")},
    )
    assert created.status_code == 200, created.text
    with pytest.raises(AssertionError, match="row count changed"):
        check_unchanged(before, snapshot(fx), "sig", "ctx")
    before = snapshot(fx)
    updated = fx.superuser.patch(
        f"/api/collections/{POSTS}/records/{created.json()['id']}", json={"views": 7}
    )
    assert updated.status_code == 200, updated.text
    with pytest.raises(AssertionError, match="rows changed"):
        check_unchanged(before, snapshot(fx), "sig", "ctx")

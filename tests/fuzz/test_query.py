"""Generated filter/sort/expand/fields/page parameters on list and view: never a 5xx, errors in shape."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz_settings
from tests.fuzz.checks import guarded
from tests.fuzz.grammar import expands, field_lists, filters, list_params, paging_params, sorts, view_params
from tests.fuzz.schema import COLLECTIONS, POSTS, Fixture

AUTHS = ("guest", "member", "editor", "superuser", "garbage")


def _get(fx: Fixture, auth: str, route: str, url: str, params: dict[str, str]) -> None:
    token = fx.tokens[auth]
    headers = {"Authorization": token} if token else {}
    with guarded(fx, f"GET {route}", write=False) as exchange:
        exchange.record(fx.http.get(url, params=params, headers=headers), params, f"auth={auth}")


@fuzz_settings(examples=150)
@given(
    auth=st.sampled_from(AUTHS),
    collection=st.sampled_from((POSTS, POSTS, *COLLECTIONS)),
    params=list_params(),
    slash=st.sampled_from(("", "", "", "/")),
)
def test_list(fx: Fixture, auth: str, collection: str, params: dict[str, str], slash: str) -> None:
    # a trailing slash skips the hot path (core/api/_hot.py): both paths get the same input
    _get(fx, auth, "list", f"/api/collections/{collection}/records{slash}", params)


@fuzz_settings(examples=30)
@given(
    route=st.sampled_from((f"/api/collections/{POSTS}/records", "/api/collections", "/api/logs")),
    params=paging_params(),
)
def test_paging(fx: Fixture, route: str, params: dict[str, str]) -> None:
    _get(fx, "superuser", "paging", route, params)


@fuzz_settings(examples=60)
@given(
    auth=st.sampled_from(AUTHS),
    collection=st.sampled_from(COLLECTIONS),
    which=st.integers(0, 4),
    params=view_params(),
)
def test_view(fx: Fixture, auth: str, collection: str, which: int, params: dict[str, str]) -> None:
    ids = fx.ids[collection]
    record_id = ids[which] if which < len(ids) else ("nope", "../x", "%2e%2e", " ", "a" * 300)[which % 5]
    _get(fx, auth, "view", f"/api/collections/{collection}/records/{record_id}", params)


@fuzz_settings(examples=40)
@given(
    auth=st.sampled_from(("superuser", "member")),
    params=st.fixed_dictionaries(
        {}, optional={"filter": filters(), "sort": sorts(), "fields": field_lists(), "expand": expands()}
    ),
)
def test_collections_list(fx: Fixture, auth: str, params: dict[str, str]) -> None:
    _get(fx, auth, "collections", "/api/collections", params)


@fuzz_settings(examples=30)
@given(
    params=st.fixed_dictionaries({}, optional={"filter": filters(), "sort": sorts(), "fields": field_lists()})
)
def test_logs_list(fx: Fixture, params: dict[str, str]) -> None:
    _get(fx, "superuser", "logs", "/api/logs", params)


THUMBS = ("100x100", "50x50", "0x20", "0x0", "50x50t", "50x50b", "50x50f", "20x0", "x", "-1x5", "5x", "1e3x1",
          "99999x99999", "50x50z", "", "50X50", "٥x٥")  # fmt: skip


@fuzz_settings(examples=40)
@given(
    auth=st.sampled_from(("guest", "superuser")),
    which=st.integers(0, 7),
    params=st.fixed_dictionaries(
        {},
        optional={
            "thumb": st.sampled_from(THUMBS),
            "download": st.sampled_from(("1", "0", "true", "x", "")),
            "token": st.sampled_from(("", "x", "eyJhbGciOiJIUzI1NiJ9.e30.bad")),
        },
    ),
)
def test_files(fx: Fixture, auth: str, which: int, params: dict[str, str]) -> None:
    if which < len(fx.files):
        record, name = fx.files[which]
    else:
        record, name = fx.ids[POSTS][0], ("nope.png", "../data.db", "%2e%2e", "thumbs_x")[which % 4]
    _get(fx, auth, "file", f"/api/files/{POSTS}/{record}/{name}", params)

"""Strategies for write bodies: JSON objects, multipart forms (files, @jsonPayload, modifiers), batches.

Keys are the fixture's real field names with PocketBase's modifiers (`f+`, `+f`, `f-`,
`f:autogenerate`) and a few system keys; values are plausible-but-wrong for the field about
half of the time. Multipart bodies are written by hand so they can also be broken (a missing
closing boundary, a part with no name, a wrong boundary) after they are well formed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.grammar import POST_FIELDS, TEXT_CHARS, USER_FIELDS, expands, field_lists
from tests.fuzz.schema import COLLECTIONS, LABEL_VALUES, POSTS, SELECT_VALUES, TAGS, USER_PASSWORD, USERS

SYSTEM_KEYS = (
    "id", "collectionId", "collectionName", "created", "updated", "expand", "password", "passwordConfirm",
    "oldPassword", "email", "emailVisibility", "verified", "tokenKey", "@jsonPayload", "", " ", "nope",
)  # fmt: skip
KEY_FORMS = ("{}", "{}", "{}", "{}+", "+{}", "{}-", "{}:autogenerate", "{}++", "-{}", "{}:nope", "{}.x")

_text = st.text(TEXT_CHARS, max_size=20)


def plausible_strings(ids: dict[str, list[str]]) -> st.SearchStrategy[str]:
    known = [i for group in ids.values() for i in group]
    return st.one_of(
        st.sampled_from(SELECT_VALUES + LABEL_VALUES + ("", " ", "editor", "member")),
        st.sampled_from(known or ["x"]),
        st.sampled_from(
            (
                "2025-01-15 10:00:00.000Z",
                "2025-13-45",
                "1999-01-01",
                "now",
                "0000-00-00 00:00:00",
                "a@b.co",
                "a@blocked.test",
                "not-an-email",
                "https://example.com/x",
                "ftp://example.com",
                "https://evil.test",
                "javascript:alert(1)",
                "aaaaaaaaaaaaaaa",
                "AAAAAAAAAAAAAAA",
                "a" * 16,
                "../../etc/passwd",
                "cover.txt",
                "g1.bin",
                "1e400",
                "NaN",
                "true",
                "null",
                "[]",
                "{}",
                '{"lon": 1, "lat": 2}',
                "x" * 200,
                "%00",
                "\x00",
                "'",
                "\\",
            )
        ),  # fmt: skip
        _text,
    )


def json_values(ids: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=False, allow_infinity=False),
        plausible_strings(ids),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=6),
            st.dictionaries(st.sampled_from(("lon", "lat", "a", "", "n", "id")), inner, max_size=4),
        ),
        max_leaves=4,
    )


def _fields(collection: str) -> tuple[str, ...]:
    return POST_FIELDS if collection == POSTS else USER_FIELDS if collection == USERS else ("id", "name")


def _good_values(ids: dict[str, list[str]]) -> dict[str, Any]:
    """A value each field accepts, so that a body with a few of them still gets written."""
    return {
        "title": "fuzzed", "slug": "a-b", "views": 5, "rank": -3, "published": True, "status": "live",
        "labels": ["red", "blue"], "due": "2025-01-15 10:00:00.000Z", "meta": {"k": [1, "x"]},
        "contact": "a@b.co", "link": "https://example.com/p", "body": "<p>hi</p>",
        "where": {"lon": 1.5, "lat": -2}, "secret": "s", "author": ids[USERS][0], "tags": ids[TAGS][:1],
        "name": "n", "role": "member", "emailVisibility": True, "verified": False,
    }  # fmt: skip


@st.composite
def keys(draw: st.DrawFn, collection: str) -> str:
    name = draw(st.one_of(st.sampled_from(_fields(collection)), st.sampled_from(SYSTEM_KEYS)))
    return draw(st.sampled_from(KEY_FORMS)).format(name)


@st.composite
def write_bodies(draw: st.DrawFn, collection: str, ids: dict[str, list[str]]) -> dict[str, Any]:
    """A JSON object that is often nearly right: a valid base for the collection, then wrong keys."""
    body: dict[str, Any] = {}
    if draw(st.integers(0, 3)):
        body.update(_valid_base(collection, draw(st.integers(0, 10**9))))
    good = _good_values(ids)
    for _ in range(draw(st.sampled_from((0, 0, 1, 1, 1, 2, 3, 6)))):
        key = draw(keys(collection))
        plain = key.strip("+-").split(":")[0]
        if plain in good and draw(st.booleans()):
            body[key] = good[plain]
        else:
            body[key] = draw(json_values(ids))
    return body


def _valid_base(collection: str, salt: int) -> dict[str, Any]:
    if collection == POSTS:
        return {"title": f"fuzz {salt}", "status": "draft", "views": 1}
    if collection == USERS:
        return {"email": f"f{salt}@example.com", "password": USER_PASSWORD, "passwordConfirm": USER_PASSWORD}
    return {"name": f"t{salt}"}


@st.composite
def raw_json(draw: st.DrawFn, collection: str, ids: dict[str, list[str]]) -> bytes:
    """Bytes sent as application/json: well formed, cut short, not an object, or not JSON at all."""
    text = json.dumps(draw(write_bodies(collection, ids)))
    kind = draw(st.sampled_from(("whole", "whole", "cut", "array", "scalar", "bytes", "empty", "nan", "dup")))
    if kind == "cut":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))].encode()
    if kind == "array":
        return f"[{text}]".encode()
    if kind == "scalar":
        return draw(st.sampled_from((b"1", b"null", b'"x"', b"true", b"1e999", b"-")))
    if kind == "bytes":
        return draw(st.binary(max_size=40))
    if kind == "empty":
        return draw(st.sampled_from((b"", b" ", b"\n", b"{", b"}", b"{}", b'{"')))
    if kind == "nan":
        return b'{"views": NaN, "title": Infinity}'
    if kind == "dup":
        return b'{"title": "a", "title": 5, "title": null}'
    return text.encode()


@dataclass
class Part:
    name: str | None
    value: bytes
    filename: str | None = None
    content_type: str | None = None


FILE_NAMES = (
    "a.txt", "a.png", "x", "", ".", "..", "../../x.txt", "a+b=c#d*e.txt", "名前.txt", "a b.txt", "a\x00b.txt",
    "a\r\nb.txt", "a\"b.txt", "a;b.txt", "note.c++", "x.t#t", "y.=*", "z.tx t", "w.é", "a" * 300 + ".txt", ".hidden", "x.tar.gz", "CON", "a/b.txt", "%2e%2e",
)  # fmt: skip
FILE_BODIES = (
    b"", b"hello", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01", b"\xff\xd8\xff\xe0garbage",
    b"GIF89a", b"x" * 70000, b"%PDF-1.4",
)  # fmt: skip
FILE_TYPES = ("text/plain", "image/png", "application/octet-stream", "image/jpeg", "", "x", None)


@st.composite
def file_parts(draw: st.DrawFn, collection: str, prefix: str = "") -> Part:
    field = draw(
        st.sampled_from(
            (
                "cover",
                "cover",
                "gallery",
                "gallery",
                "gallery+",
                "+gallery",
                "avatar",
                "title",
                "nope",
                "cover-",
            )
        )
    )
    return Part(
        prefix + field,
        draw(st.one_of(st.sampled_from(FILE_BODIES), st.binary(max_size=64))),
        draw(st.one_of(st.sampled_from(FILE_NAMES), st.sampled_from(FILE_NAMES), _text)),
        draw(st.sampled_from(FILE_TYPES)),
    )


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


@st.composite
def text_parts(draw: st.DrawFn, collection: str, ids: dict[str, list[str]]) -> list[Part]:
    body = draw(write_bodies(collection, ids))
    parts = [Part(k, _as_text(v).encode()) for k, v in body.items()]
    if draw(st.integers(0, 5)) == 0:
        # a text part is bytes on the wire: not always UTF-8 (PocketBase stores U+FFFD for them)
        parts.append(
            Part(draw(keys(collection)), draw(st.sampled_from((b"\xff", b"a\xc3", b"\xed\xa0\x80"))))
        )
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 2)))):
        payload = draw(
            st.one_of(
                write_bodies(collection, ids).map(json.dumps),
                st.sampled_from(("", "{", "[1]", "null", "1", '{"title": ', "{}")),
            )
        )
        parts.append(Part("@jsonPayload", payload.encode()))
    return parts


@st.composite
def multipart(draw: st.DrawFn, parts: list[Part], clean: bool = False) -> tuple[bytes, str]:
    """(body, content type), the body possibly broken after it was well formed (unless clean)."""
    boundary = (
        "fuzzb0undary"
        if clean
        else draw(st.sampled_from(("fuzzb0undary", "x", "a" * 70, "with space", 'q"uote')))
    )
    out = b""
    for part in parts:
        disposition = f'form-data; name="{part.name}"' if part.name is not None else "form-data"
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"'
        headers = f"Content-Disposition: {disposition}\r\n"
        if part.content_type is not None:
            headers += f"Content-Type: {part.content_type}\r\n"
        out += f"--{boundary}\r\n{headers}\r\n".encode(errors="surrogateescape") + part.value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    damage = (
        "none"
        if clean
        else draw(st.sampled_from(("none",) * 8 + ("cut", "no-end", "other-boundary", "no-boundary")))
    )
    content_type = (
        f'multipart/form-data; boundary="{boundary}"'
        if " " in boundary
        else (f"multipart/form-data; boundary={boundary}")
    )
    if damage == "cut" and out:
        out = out[: draw(st.integers(0, len(out) - 1))]
    elif damage == "no-end":
        out = out[: -len(f"--{boundary}--\r\n")]
    elif damage == "other-boundary":
        content_type = "multipart/form-data; boundary=different"
    elif damage == "no-boundary":
        content_type = "multipart/form-data"
    return out, content_type


@st.composite
def form_bodies(draw: st.DrawFn, collection: str, ids: dict[str, list[str]]) -> tuple[bytes, str]:
    if draw(st.booleans()):
        # what the SDK sends for a plausible record: it gets written, and its file names stored
        parts = [
            Part(k, _as_text(v).encode())
            for k, v in _valid_base(collection, draw(st.integers(0, 10**9))).items()
        ]
        parts += draw(st.lists(clean_file_parts(), min_size=1, max_size=2))
        return draw(multipart(parts, clean=True))
    parts = draw(text_parts(collection, ids))
    parts += draw(st.lists(file_parts(collection), max_size=3))
    if draw(st.integers(0, 19)) == 0:
        parts.append(Part(None, b"nameless"))
    return draw(multipart(draw(st.permutations(parts))))


def clean_file_parts(prefix: str = "") -> st.SearchStrategy[Part]:
    """A small text file in a field that takes it, under any of the awkward names."""
    return st.builds(
        Part,
        st.sampled_from((f"{prefix}cover", f"{prefix}gallery", f"{prefix}gallery+")),
        st.just(b"hello"),
        st.one_of(st.sampled_from(FILE_NAMES), _text),
        st.just("text/plain"),
    )


@st.composite
def write_query(draw: st.DrawFn) -> dict[str, str]:
    """`?expand=&fields=` on a write: applied to the answer only, never a reason to undo the write."""
    params = {}
    if draw(st.booleans()):
        params["expand"] = draw(expands())
    if draw(st.integers(0, 3)) == 0:
        params["fields"] = draw(field_lists())
    return params


BATCH_METHODS = ("POST", "PATCH", "DELETE", "PUT", "GET", "post", "", "HEAD")


@st.composite
def batch_requests(draw: st.DrawFn, ids: dict[str, list[str]]) -> Any:
    collection = draw(st.sampled_from(COLLECTIONS))
    known = ids[collection]
    record = draw(st.sampled_from((*known, *known, "nope", "", "a/b", "../" + known[0])))
    url = draw(
        st.sampled_from(
            (
                f"/api/collections/{collection}/records",
                f"/api/collections/{collection}/records/{record}",
                f"/api/collections/{collection}/records?expand=author&fields=id",
                f"/api/collections/{collection}/records/{record}?expand=nope",
                "/api/collections/nope/records",
                "/api/batch",
                "/api/health",
                "",
                "http://x/api/x",
                "records",
                f"/api/collections/{collection}/records/{record}/x",
            )
        )  # fmt: skip
    )
    method = draw(st.sampled_from(BATCH_METHODS))
    if draw(st.booleans()):
        # half the sub-requests are coherent, so whole batches get through and write files
        base = f"/api/collections/{collection}/records"
        method, url = draw(
            st.sampled_from((("POST", base), ("POST", base), ("PUT", base), ("PATCH", f"{base}/{record}")))
        )
    item: dict[str, Any] = {"method": method, "url": url}
    if draw(st.integers(0, 5)):
        item["body"] = draw(write_bodies(collection, ids) if draw(st.integers(0, 3)) else json_values(ids))
    if draw(st.integers(0, 4)) == 0:
        item["headers"] = draw(
            st.one_of(
                st.dictionaries(st.sampled_from(("Authorization", "x_token", "content-type")), _text), _text
            )
        )
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values(ids))  # not an object at all
    return item


@st.composite
def batch_bodies(draw: st.DrawFn, ids: dict[str, list[str]]) -> dict[str, Any]:
    requests = draw(st.lists(batch_requests(ids), max_size=12))
    body: dict[str, Any] = {"requests": requests}
    if draw(st.integers(0, 9)) == 0:
        body["requests"] = draw(json_values(ids))
    return body


@st.composite
def batch_forms(draw: st.DrawFn, ids: dict[str, list[str]]) -> tuple[bytes, str]:
    """The SDK's multipart batch: @jsonPayload with the requests, files as `requests.<i>.<field>`."""
    if draw(st.booleans()):
        # one valid create with a file, then whatever else: the batch's files must not outlive a failure
        salt = draw(st.integers(0, 10**9))
        first = {
            "method": "POST",
            "url": f"/api/collections/{POSTS}/records",
            "body": _valid_base(POSTS, salt),
        }
        body = {"requests": [first, *draw(st.lists(batch_requests(ids), max_size=1))]}
        parts = [Part("@jsonPayload", json.dumps(body).encode()), draw(clean_file_parts("requests.0."))]
        return draw(multipart(parts, clean=True))
    body = draw(batch_bodies(ids))
    parts = [Part("@jsonPayload", json.dumps(body).encode())]
    for _ in range(draw(st.integers(0, 3))):
        index = draw(st.sampled_from(("0", "1", "11", "-1", "x", "")))
        parts.append(draw(file_parts(POSTS, prefix=f"requests.{index}.")))
    if draw(st.integers(0, 5)) == 0:
        parts.append(Part("requests", b"[]"))
    return draw(multipart(draw(st.permutations(parts))))

"""file fields: stored names, upload checks and existing names, as PocketBase 0.40.6 answered."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.store.fields import FieldError, UploadedFile, ValidationContext, field_type, stored_name
from core.store.fields.file import snakecase
from core.store.fields.mimesniff import detect
from core.store.schema import Collection, Field

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005"
    "000201a5ddd3f50000000049454e44ae426082"
)
R = "[a-z0-9]{10}"  # the random part

NAMES: list[tuple[str, bytes, str]] = [
    ("Hello World.txt", b"hello", rf"hello_world_{R}\.txt"),
    ("x.bin", b"\x00\x01", rf"x{R}_{R}\.bin"),  # a base under 3 chars gets extra randomness
    ("noext", b"hello", rf"noext_{R}\.txt"),  # extension sniffed from the content
    ("noext", PNG, rf"noext_{R}\.png"),
    ("ab.txt", b"hello", rf"ab{R}_{R}\.txt"),
    ("My Photo (1).JPG", b"x", rf"my_photo_1_{R}\.JPG"),
    ("archive.tar.gz", b"x", rf"archive_{R}\.tar\.gz"),
    ("a.b.c.d.txt", b"x", rf"a_b_c_{R}\.d\.txt"),
    ("éèà ünï.txt", b"x", rf"n{R}_{R}\.txt"),  # non-ASCII letters are separators for Go
    ("x" * 150 + ".txt", b"x", "x" * 100 + rf"_{R}\.txt"),
    ("a." + "e" * 30, b"x", rf"a{R}_{R}\.e{{20}}"),
    ("myTestDB.TXT", b"x", rf"my_test_db_{R}\.TXT"),
    (".hidden", b"x", rf"{R}_{R}\.hidden"),
    ("a.t$x!t", b"x", rf"a{R}_{R}\.txt"),
    ("empty.txt", b"", rf"empty_{R}\.txt"),
]


@pytest.mark.parametrize(("original", "data", "shape"), NAMES)
def test_stored_name(original: str, data: bytes, shape: str) -> None:
    name = stored_name(original, data)
    assert re.fullmatch(shape, name), name
    assert UploadedFile(original, "application/octet-stream", data).name != name  # fresh randomness


@pytest.mark.parametrize(
    ("text", "expected"), [("myTestDB", "my_test_db"), ("My Photo (1)", "my_photo_1"), ("a__b", "a_b")]
)
def test_snakecase(text: str, expected: str) -> None:
    assert snakecase(text) == expected


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG, "image/png"),
        (b"GIF89a" + b"0" * 20, "image/gif"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"%PDF-1.7", "application/pdf"),
        (b"plain text here", "text/plain; charset=utf-8"),
        (b'{"a": 1}', "application/json"),
        (b"<!DOCTYPE html><html></html>", "text/html; charset=utf-8"),
        (b"\x00\x01\x02", "application/octet-stream"),
    ],
)
def test_detect(data: bytes, mime: str) -> None:
    assert detect(data).type == mime


def upload(name: str, data: bytes = b"hello") -> UploadedFile:
    return UploadedFile(name, "text/plain", data)


def outcome(field: Field, raw: Any, old: dict[str, Any] | None = None) -> Any:
    ft = field_type("file")
    value = ft.normalize(field, raw)
    context = ValidationContext(
        collection=Collection(name="f1"),
        is_new=old is None,
        old=old,
        find_collection=lambda _id: None,
        existing_ids=lambda _c, _ids: set(),
    )
    try:
        ft.validate(field, value, context)
    except FieldError as e:
        return e.to_json()
    return ft.to_db(field, value)


SINGLE = Field("f", "file")
MULTI = Field("fm", "file", options={"maxSelect": 3, "maxSize": 100})
TYPED = Field("fi", "file", options={"mimeTypes": ["image/png", "text/plain"]})


def test_upload_checks() -> None:
    assert outcome(MULTI, [upload("big.txt", b"x" * 101)]) == {
        "code": "validation_file_size_limit",
        "message": "Failed to upload big.txt - the maximum allowed file size is 100 bytes.",
        "params": {"file": "big.txt", "maxSize": 100},
    }
    assert outcome(MULTI, [upload(f"{i}.txt", b"x") for i in range(4)]) == {
        "code": "validation_too_many_files",
        "message": "The maximum allowed files is 3.",
        "params": {"maxSelect": 3},
    }
    assert outcome(SINGLE, upload("a.txt", b"x" * (5 * 1024 * 1024 + 1)))["params"] == {
        "file": "a.txt",
        "maxSize": 5242880,
    }
    assert re.fullmatch(rf"img_{R}\.png", outcome(TYPED, upload("img.png", PNG)))
    assert re.fullmatch(rf"t{R}_{R}\.png", outcome(TYPED, upload("t.png", b"plain text here")))
    fake = upload("fake.png", b"GIF89a" + b"0" * 20)
    assert outcome(TYPED, fake) == {
        "code": "validation_invalid_mime_type",
        "message": f'"{fake.name}" mime type must be one of: image/png, text/plain.',
    }
    assert outcome(Field("fr", "file", required=True), None)["code"] == "validation_required"


def test_names_must_already_belong_to_the_record() -> None:
    assert outcome(SINGLE, "existing.txt") == {
        "code": "validation_invalid_file",
        "message": "Invalid new files: [existing.txt].",
        "params": {"invalidFiles": ["existing.txt"]},
    }
    assert outcome(SINGLE, ["a.txt", "b.txt"])["params"] == {
        "invalidFiles": ["b.txt"]
    }  # single keeps the last
    assert outcome(MULTI, ["c.txt", "d.txt"])["message"] == "Invalid new files: [c.txt d.txt]."
    old = {"fm": ["two.txt", "three.txt"], "fr": "a.txt"}
    assert outcome(MULTI, ["three.txt", "two.txt"], old) == '["three.txt","two.txt"]'
    assert outcome(MULTI, ["two.txt", "bogus.txt"], old)["params"] == {"invalidFiles": ["bogus.txt"]}
    assert outcome(MULTI, ["two.txt", "three.txt", "two.txt"], old) == '["two.txt","three.txt"]'
    assert outcome(MULTI, [], old) == "[]"
    assert outcome(Field("fr", "file", required=True), "", old)["code"] == "validation_required"


def test_file_modifiers() -> None:
    ft = field_type("file")
    have = ["one.txt", "two.txt"]
    new = upload("three.txt")
    assert ft.apply_modifier(MULTI, have, "+", [new]) == ["one.txt", "two.txt", new]
    assert ft.apply_modifier(MULTI, have, "prepend", new) == [new, "one.txt", "two.txt"]
    assert ft.apply_modifier(MULTI, have, "-", ["one.txt"]) == ["two.txt"]
    assert ft.apply_modifier(MULTI, have, "-", "nonexist.txt") == have
    assert ft.apply_modifier(SINGLE, "old.txt", "+", new) == new
    too_many = ft.apply_modifier(MULTI, ["a", "b", "c"], "prepend", new)
    assert outcome(MULTI, too_many, {"fm": ["a", "b", "c"]})["code"] == "validation_too_many_files"


def test_file_storage_values() -> None:
    ft = field_type("file")
    new = upload("a.txt")
    assert ft.to_db(MULTI, ["x.txt", new]) == f'["x.txt","{new.name}"]'
    assert ft.to_db(SINGLE, [new, "x.txt"]) == "x.txt"
    assert ft.from_db(MULTI, '["x.txt","y.txt"]') == ["x.txt", "y.txt"]
    assert ft.from_db(SINGLE, "x.txt") == "x.txt"
    assert ft.from_db(MULTI, "") == []
    assert new.size == 5

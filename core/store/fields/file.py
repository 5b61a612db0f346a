"""file: names of files stored with the record (field_file.go). Writing the bytes is not ours.

A value mixes `UploadedFile`s (new uploads, named at construction like PocketBase's
`filesystem.File`) with plain strings (files the record already has). A string that the stored
record does not have is rejected: new files can only arrive as uploads.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any, BinaryIO

from core.store.fields.base import (
    MAX_SAFE_JSON_INT,
    FieldError,
    FindCollection,
    ValidationContext,
    check_int_range,
    int_option,
    required_error,
)
from core.store.fields.cast import go_json_dumps, go_quote, to_unique_string_slice
from core.store.fields.listvalue import ListFieldType, is_multi, max_select
from core.store.fields.mimesniff import READ_LIMIT, detect
from core.store.schema import Collection, Field

DEFAULT_MAX_SIZE = 5 << 20
THUMB_SIZE = re.compile(r"[0-9]+x[0-9]+[tbf]?")
ZERO_THUMBS = ("0x0", "0x0t", "0x0b", "0x0f")
# filesystem.normalizeName: extension chars kept, name split for snake_case (ASCII \w and \W)
_EXT_INVALID = re.compile(r"[^A-Za-z0-9_.*\-+=#]+")
_SNAKE_SPLIT = re.compile(r"[^A-Za-z0-9]+|_+")
_LOOSE_FILENAME = re.compile(r"[^./\\][^/\\]+")
_RANDOM_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def random_string(length: int) -> str:
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(length))


def _extension(name: str) -> str:
    """The extension with its dot, double extensions kept whole (`.tar.gz`)."""
    primary = name.rfind(".")
    if primary < 0:
        return ""
    secondary = name.rfind(".", 0, primary)
    return name[secondary:] if secondary >= 0 else name[primary:]


def snakecase(text: str) -> str:
    """inflector.Snakecase: split at non-word characters, `myTestDB` -> `my_test_db`."""
    words = []
    for word in _SNAKE_SPLIT.split(text):
        if not word:
            continue
        out = []
        for i, ch in enumerate(word):
            if ch.isupper() and i > 0 and not word[i - 1].isupper():
                out.append("_")
            out.append(ch)
        words.append("".join(out))
    return "_".join(words).lower()


MAX_NAME_INPUT = 300


def stored_name(original: str, head: bytes = b"") -> str:
    """PocketBase's stored filename (filesystem.normalizeName): `<snake_case base>_<10 random><ext>`.

    Of a long name only the last 300 characters count. The extension keeps its case and the
    characters `\\w . * - + = #`, loses leading and trailing dots, and at most its last 20
    survive; without one it is derived from the content (`head`, the first bytes), as PocketBase
    sniffs it. A base shorter than 3 characters gets 10 more random characters, a longer one is
    cut at 100.
    """
    if len(original) > MAX_NAME_INPUT:
        original = original[-MAX_NAME_INPUT:]
    original_ext = _extension(original)
    ext = "." + _EXT_INVALID.sub("", original_ext).strip(".")
    if ext == ".":
        ext = detect(head).extension
    if len(ext) > 20:
        ext = "." + ext[-20:].strip(".")
    base = snakecase((original[: len(original) - len(original_ext)] if original_ext else original).strip("."))
    if len(base) < 3:
        base += random_string(10)
    elif len(base) > 100:
        base = base[:100]
    return f"{base}_{random_string(10)}{ext}"


@dataclass
class UploadedFile:
    """A new upload. Small ones (an OAuth2 avatar) hold their bytes in `data`; request uploads
    stay in the temporary file the multipart parser wrote (`spool`), so a large upload is
    never held in memory whole."""

    filename: str  # as the client named it
    content_type: str
    data: bytes = b""
    name: str = ""  # the stored name; generated from filename when left empty
    spool: BinaryIO | None = None

    def __post_init__(self) -> None:
        if not self.name:
            self.name = stored_name(self.filename, self.head())

    def head(self, size: int = READ_LIMIT) -> bytes:
        """The first bytes, for content sniffing."""
        if self.spool is None:
            return self.data[:size]
        self.spool.seek(0)
        return self.spool.read(size)

    @property
    def size(self) -> int:
        if self.spool is None:
            return len(self.data)
        return self.spool.seek(0, os.SEEK_END)

    def reader(self) -> BinaryIO:
        """The content from its start."""
        if self.spool is None:
            return io.BytesIO(self.data)
        self.spool.seek(0)
        return self.spool

    def renamed(self) -> UploadedFile:
        """The same content submitted again under its stored name (a batch sub-request)."""
        return UploadedFile(self.name, self.content_type, self.data, spool=self.spool)


FileItem = UploadedFile | str


def file_name(item: FileItem) -> str:
    return item.name if isinstance(item, UploadedFile) else item


def to_items(raw: Any) -> list[FileItem]:
    """FileField.toSliceValue: uploads and names, unique by name, first occurrence kept."""
    items: list[FileItem] = []
    if isinstance(raw, UploadedFile):
        items = [raw]
    elif isinstance(raw, list | tuple):
        for entry in raw:
            casted = to_items(entry)
            if len(casted) == 1:  # nested lists of several files are dropped, as in Go
                items.append(casted[0])
    elif raw is not None:
        items = list(to_unique_string_slice(raw))
    seen: set[str] = set()
    unique: list[FileItem] = []
    for item in items:
        name = file_name(item)
        if name not in seen:
            seen.add(name)
            unique.append(item)
    return unique


def max_size(field: Field) -> int:
    size = int_option(field, "maxSize")
    return size if size > 0 else DEFAULT_MAX_SIZE


class FileType(ListFieldType):
    name = "file"

    def items(self, raw: Any) -> list[Any]:
        return to_items(raw)

    def item_key(self, item: Any) -> str:
        return file_name(item)

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        files = to_items(value)
        if not files:
            if field.required:
                raise required_error()
            return
        stored = {file_name(f) for f in to_items((ctx.old or {}).get(field.name))}
        invalid = [f[:250] for f in files if isinstance(f, str) and f not in stored]
        if invalid:
            raise FieldError(
                "validation_invalid_file",
                f"Invalid new files: [{' '.join(invalid)}].",  # Go prints a []string as [a b]
                {"invalidFiles": invalid},
            )
        limit = max_select(field)
        if len(files) > limit:
            raise FieldError(
                "validation_too_many_files", f"The maximum allowed files is {limit}.", {"maxSelect": limit}
            )
        for upload in files:
            if isinstance(upload, UploadedFile):
                self._validate_upload(field, upload)

    def _validate_upload(self, field: Field, upload: UploadedFile) -> None:
        if not 1 <= len(upload.name) <= 150:
            raise FieldError("validation_length_out_of_range", "The length must be between 1 and 150.")
        if not _LOOSE_FILENAME.fullmatch(upload.name):
            raise FieldError("validation_match_invalid", "Must be in a valid format.")
        limit = max_size(field)
        if upload.size > limit:
            raise FieldError(
                "validation_file_size_limit",
                f"Failed to upload {upload.filename} - the maximum allowed file size is {limit} bytes.",
                {"file": upload.filename, "maxSize": limit},
            )
        allowed = [str(t) for t in field.opt("mimeTypes") or []]
        if allowed:
            # the type is sniffed from the bytes; the client's Content-Type is not trusted
            sniffed = detect(upload.head())
            if not any(sniffed.is_(t) for t in allowed):
                raise FieldError(
                    "validation_invalid_mime_type",
                    f"{go_quote(upload.name)} mime type must be one of: {', '.join(allowed)}.",
                )

    def to_db(self, field: Field, value: Any) -> Any:
        names = [file_name(f) for f in to_items(value)]
        if is_multi(field):
            return go_json_dumps(names)
        return names[-1] if names else ""

    def from_db(self, field: Field, raw: Any) -> Any:
        if isinstance(raw, bytes):
            raw = raw.decode()
        return self.normalize(field, raw)

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        errors: dict[str, FieldError] = {}
        check_int_range(errors, "maxSelect", int_option(field, "maxSelect"), 0, MAX_SAFE_JSON_INT)
        check_int_range(errors, "maxSize", int_option(field, "maxSize"), 0, MAX_SAFE_JSON_INT)
        bad: dict[str, FieldError] = {}
        for i, thumb in enumerate(field.opt("thumbs") or []):
            size = str(thumb)
            if size in ZERO_THUMBS:
                bad[str(i)] = FieldError("validation_not_in_invalid", "Must not be in list.")
            elif not THUMB_SIZE.fullmatch(size):
                bad[str(i)] = FieldError("validation_match_invalid", "Must be in a valid format.")
        if bad:
            errors["thumbs"] = FieldError(
                "validation_match_invalid", "Must be in a valid format.", nested=bad
            )
        return errors

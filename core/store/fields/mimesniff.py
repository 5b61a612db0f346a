"""Content-based MIME detection, a subset of gabriel-vasile/mimetype (what PocketBase uses).

PocketBase checks a file field's `mimeTypes` against the type sniffed from the upload's bytes,
never the client's Content-Type, and takes the extension from the sniffed type when the
filename has none. Only the first 3 KiB are looked at, like mimetype's default read limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

READ_LIMIT = 3072


@dataclass(frozen=True)
class Mime:
    type: str
    extension: str
    aliases: tuple[str, ...] = ()

    def is_(self, expected: str) -> bool:
        """mimetype's MIME.Is: same media type ignoring parameters, or one of its aliases."""
        want = expected.split(";")[0].strip().lower()
        return want == self.type.split(";")[0].strip().lower() or want in self.aliases


OCTET_STREAM = Mime("application/octet-stream", "")
TEXT = Mime("text/plain; charset=utf-8", ".txt")

_PREFIXES: tuple[tuple[bytes, Mime], ...] = (
    (b"7z\xbc\xaf\x27\x1c", Mime("application/x-7z-compressed", ".7z")),
    (b"%PDF-", Mime("application/pdf", ".pdf", ("application/x-pdf",))),
    (b"\x89PNG\r\n\x1a\n", Mime("image/png", ".png")),
    (b"\xff\xd8\xff", Mime("image/jpeg", ".jpg")),
    (b"GIF87a", Mime("image/gif", ".gif")),
    (b"GIF89a", Mime("image/gif", ".gif")),
    (b"II*\x00", Mime("image/tiff", ".tiff")),
    (b"MM\x00*", Mime("image/tiff", ".tiff")),
    (b"\x00\x00\x01\x00", Mime("image/x-icon", ".ico")),
    (b"BM", Mime("image/bmp", ".bmp", ("image/x-bmp", "image/x-ms-bmp"))),
    (b"ID3", Mime("audio/mpeg", ".mp3", ("audio/x-mpeg", "audio/mp3"))),
    (b"fLaC", Mime("audio/flac", ".flac")),
    (
        b"\x1f\x8b",
        Mime(
            "application/gzip", ".gz", ("application/x-gzip", "application/x-gunzip", "application/gzipped")
        ),
    ),
    (b"Rar!\x1a\x07", Mime("application/x-rar-compressed", ".rar", ("application/x-rar",))),
    (b"\x00asm", Mime("application/wasm", ".wasm")),
    (b"SQLite format 3\x00", Mime("application/vnd.sqlite3", ".sqlite", ("application/x-sqlite3",))),
    (b"\x28\xb5\x2f\xfd", Mime("application/zstd", ".zst")),
    (b"\xfd7zXZ\x00", Mime("application/x-xz", ".xz")),
    (b"BZh", Mime("application/x-bzip2", ".bz2")),
    (b"wOFF", Mime("font/woff", ".woff")),
    (b"wOF2", Mime("font/woff2", ".woff2")),
    (b"OTTO", Mime("font/otf", ".otf")),
    (
        b"\x00\x01\x00\x00",
        Mime("font/ttf", ".ttf", ("font/sfnt", "application/x-font-ttf", "application/font-sfnt")),
    ),
    (b"\x7fELF", Mime("application/x-elf", "")),
    (b"MZ", Mime("application/vnd.microsoft.portable-executable", ".exe")),
    (b"\x1aE\xdf\xa3", Mime("video/x-matroska", ".mkv")),
)
_RIFF = {
    b"WEBP": Mime("image/webp", ".webp"),
    b"WAVE": Mime("audio/wav", ".wav", ("audio/x-wav", "audio/vnd.wave", "audio/wave")),
    b"AVI ": Mime("video/x-msvideo", ".avi", ("video/avi", "video/msvideo")),
}
_FTYP = {
    b"avif": Mime("image/avif", ".avif"),
    b"heic": Mime("image/heic", ".heic"),
    b"heix": Mime("image/heic", ".heic"),
    b"qt  ": Mime("video/quicktime", ".mov"),
    b"M4A ": Mime("audio/x-m4a", ".m4a"),
    b"3gp4": Mime("video/3gpp", ".3gp", ("video/3gp", "audio/3gpp")),
}
_MP4 = Mime("video/mp4", ".mp4")
_ZIP = Mime("application/zip", ".zip", ("application/x-zip", "application/x-zip-compressed"))
_OOXML = (
    (b"word/", Mime("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx")),
    (b"xl/", Mime("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")),
    (b"ppt/", Mime("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx")),
)
_HTML_TAGS = (
    b"<!DOCTYPE HTML",
    b"<HTML",
    b"<HEAD",
    b"<SCRIPT",
    b"<IFRAME",
    b"<H1",
    b"<DIV",
    b"<FONT",
    b"<TABLE",
    b"<A",
    b"<STYLE",
    b"<TITLE",
    b"<B",
    b"<BODY",
    b"<BR",
    b"<P",
    b"<!--",
)
_HTML = Mime("text/html; charset=utf-8", ".html")
_SVG = Mime("image/svg+xml", ".svg")
_XML = Mime("text/xml; charset=utf-8", ".xml", ("application/xml",))
_JSON = Mime("application/json", ".json")


def detect(data: bytes) -> Mime:
    head = data[:READ_LIMIT]
    for prefix, mime in _PREFIXES:
        if head.startswith(prefix):
            return mime
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[4:8] == b"ftyp":
        return _FTYP.get(head[8:12], _MP4)
    if head.startswith(b"PK\x03\x04"):
        for marker, mime in _OOXML:
            if marker in head:
                return mime
        return _ZIP
    if head.startswith(b"OggS"):
        if b"OpusHead" in head[:64] or b"\x01vorbis" in head[:64]:
            return Mime("audio/ogg", ".oga")
        if b"\x80theora" in head[:64]:
            return Mime("video/ogg", ".ogv")
        return Mime("application/ogg", ".ogx", ("application/x-ogg",))
    if len(head) > 262 and head[257:262] == b"ustar":
        return Mime("application/x-tar", ".tar")
    if _is_text(head):
        return _detect_text(head, complete=len(data) <= READ_LIMIT)
    return OCTET_STREAM


def _is_text(head: bytes) -> bool:
    if head.startswith((b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")):
        return True
    # the WHATWG "binary data byte" set: any of these means not text
    return not any(b <= 0x08 or b == 0x0B or 0x0E <= b <= 0x1A or 0x1C <= b <= 0x1F for b in head)


def _detect_text(head: bytes, complete: bool) -> Mime:
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip(b" \t\n\r\x0c")
    upper = stripped[:64].upper()
    for tag in _HTML_TAGS:
        if upper.startswith(tag) and len(upper) > len(tag) and upper[len(tag)] in b" >":
            return _HTML
    if b"<svg" in head:
        return _SVG
    if stripped.startswith(b"<?xml"):
        return _XML
    if complete and stripped[:1] in (b"{", b"["):
        try:
            json.loads(head.decode("utf-8"))
            return _JSON
        except ValueError:
            pass
    return TEXT

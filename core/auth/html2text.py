"""The plain-text alternative of an HTML mail, converted the way PocketBase's mailer does it.

PocketBase sends every mail as text + HTML, the text part derived from the HTML with simple
rules, so a client that shows text only still gets the link: whitespace runs collapse to one
space, block elements start a new line (CRLF), `<br>` always breaks, list items get "- ",
links become `[label](href)` (markdown style), and style/script-like elements are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_WHITESPACE = re.compile(r"\s+")

# elements whose whole content is left out of the text version
SKIPPED = frozenset(
    (
        "style",
        "script",
        "iframe",
        "applet",
        "object",
        "svg",
        "img",
        "button",
        "form",
        "textarea",
        "input",
        "select",
        "option",
        "template",
    )
)
INLINE = frozenset(("a", "span", "small", "strike", "strong", "sub", "sup", "em", "b", "u", "i"))
VOID = frozenset(
    ("br", "img", "input", "meta", "link", "hr", "area", "base", "col", "embed", "source", "wbr")
)


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.can_break = False  # False right after a line break: leading spaces are dropped
        self.skip_depth = 0
        self.links: list[tuple[str, list[str]]] = []  # open <a>: (href, collected text)

    def _write(self, text: str) -> None:
        (self.links[-1][1] if self.links else self.out).append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_depth:
            if tag in SKIPPED and tag not in VOID:
                self.skip_depth += 1
            return
        if tag in SKIPPED:
            if tag not in VOID:
                self.skip_depth = 1
            return
        if tag == "br" or self.can_break and tag not in INLINE:
            self._write("\r\n")
            self.can_break = False
        if tag == "li":
            self._write("- ")
        if tag == "a":
            href = next((v for k, v in attrs if k == "href"), None) or ""
            self.links.append((href, []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skip_depth:
            if tag in SKIPPED:
                self.skip_depth -= 1
            return
        if tag != "a" or not self.links:
            return
        href, parts = self.links.pop()
        label = "".join(parts).strip() or "LINK"
        self._write(f"[{label}]" + (f"({href})" if href else ""))

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        text = _WHITESPACE.sub(" ", data)
        if not self.can_break:
            text = text.lstrip(" ")
        if text:
            self._write(text)
            self.can_break = True


def html_to_text(html: str) -> str:
    converter = _Converter()
    converter.feed(html)
    converter.close()
    while converter.links:  # an unclosed <a> still shows its text
        converter.handle_endtag("a")
    return "".join(converter.out).strip()

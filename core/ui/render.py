"""Datastar answers (beta.11 protocol, datastar-py 0.5.0): fragments, signals, redirects, notices.

Datastar applies events only from a `text/event-stream` answer with a status below 400, so the
page always gets 200 and the outcome travels in the events: errors inline in the re-rendered
form, successes as a notice, new `$auth` signals or a redirect.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from datastar_py.litestar import DatastarResponse, ServerSentEventGenerator
from datastar_py.sse import DatastarEvent

from core.ui.bridge import Result
from core.ui.templates import fragment

SSE = ServerSentEventGenerator

# PocketBase's wording is for developers; these codes get words for people
FRIENDLY = {
    "validation_invalid_password": "That is not your current password.",
    "validation_invalid_old_password": "That is not your current password.",
    "validation_not_unique": "This is already taken.",
    "validation_invalid_new_email": "This address cannot be used.",
    "validation_values_mismatch": "The passwords do not match.",
}


def respond(*events: DatastarEvent | None) -> DatastarResponse:
    return DatastarResponse([e for e in events if e is not None], status_code=200)


def signals(data: Mapping[str, Any]) -> DatastarEvent:
    return SSE.merge_signals(dict(data))


def merge(template: str, **context: Any) -> DatastarEvent:
    """Morph a partial into the element of the same id."""
    return SSE.merge_fragments(fragment(template, **context))


def redirect(location: str) -> DatastarEvent:
    # JSON-quoted: datastar-py's own redirect pastes the URL into a '...' JS string
    return SSE.execute_script(f"window.location.assign({json.dumps(location)})")


def notice(text: str, *, error: bool = False) -> DatastarEvent:
    return merge("partials/notice.html", text=text, error=error)


def notice_response(text: str, *, error: bool = False) -> DatastarResponse:
    return respond(notice(text, error=error))


def errors_of(
    result: Result, inline_fields: Iterable[str], messages: Mapping[int | str, str] | None = None
) -> tuple[dict[str, str], str]:
    """(errors shown next to their inputs, the message for the whole form) of a failed call.

    `messages` words things for people: by status (when no field is named) or by field name.
    Field errors of inputs the form does not have (a bad token, say) join the form's message.
    """
    words = messages or {}
    fields = set(inline_fields)
    details = result.field_errors
    if not details:
        return {}, words.get(result.status) or result.message
    errors = {name: FRIENDLY.get(code, message) for name, (code, message) in details.items()}
    inline = {k: v for k, v in errors.items() if k in fields}
    others = [words.get(k) or v for k, v in errors.items() if k not in fields]
    return inline, " ".join(dict.fromkeys(others))

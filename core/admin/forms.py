"""Forms: PocketBase's `{status, message, data}` error, spread over the inputs that caused it.

PocketBase nests validation errors like the body it validated (`{"smtp": {"host": {code,
message}}}`, `{"rules": {"0": {"label": ...}}}`); inputs are named by the dotted path
(`smtp.host`), so `errors["smtp.host"]` is the message shown under that input by the
`field` macro of admin/_form.html. Errors of inputs the form does not show join the form's
own message, so nothing PocketBase says is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from litestar import Request

from core.api.common import read_body
from core.ui.bridge import Result


def flat_errors(data: Any, prefix: str = "") -> dict[str, str]:
    """{dotted.path: message} of a PocketBase validation `data` object."""
    out: dict[str, str] = {}
    if not isinstance(data, Mapping):
        return out
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(value.get("message"), str) and "code" in value:
            out[path] = value["message"]
        elif isinstance(value, Mapping):
            out.update(flat_errors(value, f"{path}."))
    return out


@dataclass
class FormErrors:
    """What a failed submit shows: messages by input, and one for the whole form."""

    fields: dict[str, str] = field(default_factory=dict)
    message: str = ""

    def __bool__(self) -> bool:
        return bool(self.fields or self.message)


def errors_of(result: Result, inputs: Iterable[str] | None = None) -> FormErrors:
    """The errors of a failed API call; `inputs` None puts every field error inline."""
    if result.ok:
        return FormErrors()
    body = result.data if isinstance(result.data, dict) else {}
    flat = flat_errors(body.get("data"))
    message = str(body.get("message") or "") or "Something went wrong."
    if inputs is None:
        return FormErrors(flat, message)
    shown = set(inputs)
    inline = {k: v for k, v in flat.items() if k in shown}
    others = [f"{k}: {v}" for k, v in flat.items() if k not in shown]
    return FormErrors(inline, " ".join([message, *others]))


def nested(form: Mapping[str, Any]) -> dict[str, Any]:
    """A form's dotted names as the nested JSON PocketBase expects: `smtp.port=25` ->
    `{"smtp": {"port": "25"}}` (values stay strings; callers convert the typed ones)."""
    out: dict[str, Any] = {}
    for name, value in form.items():
        node = out
        *parents, last = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def as_bool(value: Any) -> bool:
    """A checkbox: present ("on", "true") means checked."""
    return str(value).lower() in ("on", "true", "1", "yes")


def as_int(value: Any, default: int = 0) -> int | str:
    """A number input; what is not a number goes to PocketBase as typed, so it says what is wrong."""
    text = str(value).strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        return text


async def read_form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The posted form (or JSON body). A body that cannot be read raises PocketBase's 400
    ("An error occurred while loading the submitted data."): it is never taken for an empty
    form, which a screen could save as blanks."""
    return await read_body(request)

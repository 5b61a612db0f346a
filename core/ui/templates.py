"""Jinja templates of assets/templates: whole pages and the fragments Datastar merges.

Autoescaping is on for everything; Datastar expressions are built in Python (`action`) and
land in attributes through the normal escaping, which the browser undoes before Datastar reads
them. Static asset URLs carry a content hash, so they can be cached forever.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from core.ui.paths import static_files, templates_dir

if TYPE_CHECKING:
    from jinja2 import Environment

STATIC_PREFIX = "/ds/static/"


@cache
def static_versions() -> dict[str, str]:
    return {name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for name, path in static_files().items()}


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}{name}?v={static_versions()[name]}"


def url(path: str, collection: str, **query: str) -> str:
    """A /ds or /api/ds URL for `collection` (the default `users` is spelled out all the same)."""
    params = {"collection": collection, **{k: v for k, v in query.items() if v}}
    return f"{path}?{urlencode(params)}"


def action(
    method: str,
    path: str,
    collection: str,
    *,
    form: bool = True,
    query: Mapping[str, str] | None = None,
    **options: Any,
) -> str:
    """A Datastar action expression, e.g. `@post("/api/ds/login?collection=users", {...})`.

    Forms are posted as form data (`contentType: 'form'`): passwords then never become signals,
    which Datastar would otherwise send with every later request, in URLs for GETs.
    """
    opts = {"contentType": "form", **options} if form else dict(options)
    target = json.dumps(url(path, collection, **(query or {})))
    return f"@{method}({target}, {json.dumps(opts)})" if opts else f"@{method}({target})"


def busy_signal(form_id: str) -> str:
    """The local (never sent) signal that is true while `form_id`'s request runs: `_loginFormBusy`."""
    head, *rest = form_id.split("-")
    return "_" + head + "".join(part.capitalize() for part in rest) + "Busy"


@cache
def environment() -> Environment:
    # imported on first use: jinja2 costs ~35 ms of every start-up otherwise
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static_url=static_url, url=url, action=action, busy_signal=busy_signal)
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def fragment(name: str, **context: Any) -> str:
    """A partial for a Datastar merge: one line per element is not needed, but no blank edges."""
    return render(name, **context).strip()

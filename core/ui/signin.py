"""The end of every sign-in (password, code, OAuth2, refresh, impersonation) on /api/ds.

A PocketBase auth response `{token, record}` becomes the browser's session (cookie, and every
tab of the browser through the hub); in Datastar mode the page then gets the new `$auth`, a
notice and, when it asked for one, a redirect. A 401 `{mfaId}` (MFA wants a second method)
renders the second-step forms. Anything else re-renders the form that was posted, with its
errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from litestar import Response

from core.ui import render
from core.ui.bridge import Result
from core.ui.context import Ds, result_token
from core.ui.views import viewer

TOO_MANY = "Too many attempts. Please wait a moment and try again."


@dataclass(frozen=True)
class Form:
    """A posted form: the partial that re-renders it and the inputs that show their own errors."""

    template: str
    fields: tuple[str, ...]
    messages: Mapping[int | str, str] = field(default_factory=dict)


def mfa_id_of(result: Result) -> str:
    data = result.data if isinstance(result.data, dict) else {}
    mfa_id = data.get("mfaId")
    return mfa_id if result.status == 401 and isinstance(mfa_id, str) else ""


async def answer(
    ds: Ds,
    result: Result,
    *,
    form: Form,
    form_id: str,
    method: str,
    values: Mapping[str, str],
    redirect: str = "",
    extra: Mapping[str, Any] | None = None,
) -> Response[Any]:
    token = result_token(result)
    if token:
        ds.sign_in(token)
    if not ds.datastar:
        return result.response
    context = ds.context(
        form_id=form_id, values=dict(values), redirect=redirect, methods=ds.methods(), **(extra or {})
    )
    if token:
        who = await viewer(ds.app, token)
        ds.viewer = who
        name = who.record.get("name") or who.record.get("email") or "your account"
        events = [
            render.signals(who.signals()),
            render.notice(f"Signed in as {name}."),
            render.merge("partials/mfa.html", **ds.context(mfa_id="")),
        ]
        if not form_id.startswith("mfa-"):
            # back to its first step, emptied and re-armed (a merged form gets its busy
            # indicator applied again); `extra` may add an outcome such as "done"
            fresh = ds.context(form_id=form_id, values={}, redirect=redirect, methods=ds.methods())
            if extra and "done" in extra:
                fresh["done"] = extra["done"]
            events.append(render.merge(form.template, **fresh))
        if redirect:
            events.append(render.redirect(redirect))
        return render.respond(*events)
    mfa_id = mfa_id_of(result)
    if mfa_id:
        identity = values.get("identity") or values.get("email") or ""
        mfa = ds.context(
            mfa_id=mfa_id,
            first=method,
            identity=identity,
            email=identity if "@" in identity else "",
            methods=ds.methods(),
            redirect=redirect,
        )
        return render.respond(
            render.merge("partials/mfa.html", **mfa),
            render.notice("One more step: confirm it is you with a second method."),
        )
    errors, general = render.errors_of(result, form.fields, {429: TOO_MANY, **form.messages})
    return render.respond(render.merge(form.template, **{**context, "errors": errors, "error": general}))

"""Settings: GET /_/settings/{tab} and its endpoints under /_/api/settings/.

A tab's form posts to /_/api/settings/{tab}, which turns it into a PATCH /api/settings body
(settings_spec.py) and runs the API's own handler: PocketBase's validation decides, and its
errors come back next to the inputs they name. Also here: "send test email" (the API's
/api/settings/test/email, with the saved SMTP settings, as PocketBase's dashboard) and the S3
check of the files storage tab.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from core.admin import forms, settings_spec
from core.admin.screen import endpoint, fragment, page, render_page
from core.admin.session import Admin
from core.admin.settings_spec import BY_KEY, TABS, Tab
from core.api import settings as settings_api
from core.api import settings_test_email
from core.errors import ApiError
from core.ui import render as ds_render

FORM = "admin/partials/settings_form.html"
LOAD_FAILED = "An error occurred while loading the submitted data."
MAIL_TEST = "admin/partials/mail_test.html"
TEMPLATES = (
    ("verification", "Verification"),
    ("password-reset", "Password reset"),
    ("email-change", "Confirm email change"),
    ("otp", "One-time password"),
    ("login-alert", "Login alert"),
)


def _tab(key: str) -> Tab:
    tab = BY_KEY.get(key)
    if tab is None or not tab.inputs:
        raise ApiError(404)
    return tab


async def current(admin: Admin) -> dict[str, Any]:
    result = await admin.call(settings_api.settings_list, method="GET")
    if not result.ok:
        raise ApiError(result.status, result.message)
    return dict(result.data)


def form_context(tab: Tab, settings: dict[str, Any], **extra: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"errors": {}, "error": ""}
    return {"tab": tab, "tabs": TABS, "settings": settings, "spec": settings_spec, **defaults, **extra}


@get("/_/settings")
async def settings_index(request: Request[Any, Any, Any]) -> Response[Any]:
    return Response(b"", status_code=303, headers={"Location": TABS[0].url})


@get("/_/settings/{tab:str}")
async def settings_page(request: Request[Any, Any, Any]) -> Response[Any]:
    async def build(admin: Admin) -> Response[Any]:
        tab = _tab(request.path_params["tab"])
        if tab.href:
            return Response(b"", status_code=303, headers={"Location": tab.href})
        context = form_context(tab, await current(admin), templates=TEMPLATES, test={})
        return render_page(admin, "admin/settings.html", title="Settings", active="settings", **context)

    return await page(request, build)


@post("/_/api/settings/{tab:str}", status_code=200)
async def save(request: Request[Any, Any, Any]) -> Response[Any]:
    async def run(admin: Admin) -> Response[Any]:
        tab = _tab(request.path_params["tab"])
        form = await forms.read_form(request)
        if not settings_spec.posted(tab, form):
            # checkboxes read a missing value as "off": a form that is not this tab's must not
            # be saved as a row of blanks and unticked boxes
            raise ApiError(400, LOAD_FAILED)
        body = settings_spec.patch_of(tab, form)
        result = await admin.call(settings_api.settings_update, body=body, method="PATCH")
        if not result.ok:
            errors = forms.errors_of(result)
            shown = settings_spec.merged(await current(admin), body)
            form = fragment(
                admin, FORM, **form_context(tab, shown, errors=errors.fields, error=errors.message)
            )
            return ds_render.respond(form, ds_render.notice("The settings were not saved.", error=True))
        return ds_render.respond(
            fragment(admin, FORM, **form_context(tab, dict(result.data))), ds_render.notice("Settings saved.")
        )

    return await endpoint(request, run)


@post("/_/api/settings/ratelimits/rules", status_code=200)
async def edit_rules(request: Request[Any, Any, Any]) -> Response[Any]:
    """Add (`?add=1`) or remove (`?remove=N`) a row of the rules table; saved with the form."""

    async def run(admin: Admin) -> Response[Any]:
        tab = BY_KEY["ratelimits"]
        body = settings_spec.patch_of(tab, await forms.read_form(request))
        rules = body["rateLimits"]["rules"]
        remove = request.query_params.get("remove", "")
        if remove.isdigit() and int(remove) < len(rules):
            del rules[int(remove)]
        if request.query_params.get("add"):
            rules.append({"label": "", "audience": "", "duration": "", "maxRequests": ""})
        shown = settings_spec.merged(await current(admin), body)
        return ds_render.respond(fragment(admin, FORM, **form_context(tab, shown)))

    return await endpoint(request, run)


@post("/_/api/settings/mail/test", status_code=200)
async def send_test_email(request: Request[Any, Any, Any]) -> Response[Any]:
    async def run(admin: Admin) -> Response[Any]:
        form = await forms.read_form(request)
        test = {"email": str(form.get("email") or "").strip(), "template": str(form.get("template") or "")}
        result = await admin.call(settings_test_email.settings_test_email, body=test)
        if not result.ok:
            errors = forms.errors_of(result, ("email", "template"))
            context = {"templates": TEMPLATES, "test": test, "errors": errors.fields, "error": errors.message}
            return ds_render.respond(fragment(admin, MAIL_TEST, **context))
        return ds_render.respond(
            fragment(admin, MAIL_TEST, templates=TEMPLATES, test={}, errors={}, error=""),
            ds_render.notice(f"A test email was sent to {test['email']}."),
        )

    return await endpoint(request, run)


@post("/_/api/settings/s3/test", status_code=200)
async def test_storage(request: Request[Any, Any, Any]) -> Response[Any]:
    """The API's S3 check of `?filesystem=storage` (files) or `backups`."""

    async def run(admin: Admin) -> Response[Any]:
        filesystem = request.query_params.get("filesystem", "storage")
        result = await admin.call(settings_api.settings_test_s3, body={"filesystem": filesystem})
        if not result.ok:
            return ds_render.notice_response(result.message, error=True)
        return ds_render.notice_response("The S3 storage answered.")

    return await endpoint(request, run)


routes = [settings_index, settings_page, save, edit_rules, send_test_email, test_storage]

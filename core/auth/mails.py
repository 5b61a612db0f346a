"""The five auth mails of a record, built from its collection's templates (PocketBase's mails/).

Each builder issues whatever token the mail carries and returns the ready Message; sending it
(now or in the background) is the caller's choice, because PocketBase differs per flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.auth import templates
from core.auth.mailer import Mailer, Message
from core.store.record_view import normalized
from core.store.schema import Collection, auth_defaults

if TYPE_CHECKING:
    from core.auth.service import AuthService


def _template(col: Collection, key: str) -> Mapping[str, Any]:
    nested = key in ("otp", "authAlert")  # these keep their template inside the option object
    found = (col.auth.get(key) or {}).get("emailTemplate") if nested else col.auth.get(key)
    if isinstance(found, dict) and found.get("body"):
        return found
    default = auth_defaults()[key]
    return default["emailTemplate"] if nested else default


def _build(
    mailer: Mailer,
    settings: Mapping[str, Any],
    col: Collection,
    record: Mapping[str, Any],
    template_key: str,
    to: str,
    extra: Mapping[str, str],
) -> Message:
    meta = settings.get("meta") or {}
    placeholders = templates.record_placeholders(col, normalized(col, dict(record)))
    placeholders[templates.APP_NAME] = str(meta.get("appName") or "")
    placeholders[templates.APP_URL] = str(meta.get("appURL") or "")
    placeholders.update(extra)
    subject, html = templates.resolve(_template(col, template_key), placeholders)
    return mailer.message(to, subject, html)


class RecordMails:
    def __init__(self, auth: AuthService, mailer: Mailer) -> None:
        self.auth = auth
        self.mailer = mailer

    def _settings(self) -> Mapping[str, Any]:
        return self.auth.store.settings.get()

    def verification(self, col: Collection, record: Mapping[str, Any]) -> Message:
        token = self.auth.issue(col, dict(record), "verification", extra={"email": record.get("email", "")})
        return _build(
            self.mailer,
            self._settings(),
            col,
            record,
            "verificationTemplate",
            str(record.get("email") or ""),
            {templates.TOKEN: token},
        )

    def password_reset(self, col: Collection, record: Mapping[str, Any]) -> Message:
        token = self.auth.issue(col, dict(record), "passwordReset", extra={"email": record.get("email", "")})
        return _build(
            self.mailer,
            self._settings(),
            col,
            record,
            "resetPasswordTemplate",
            str(record.get("email") or ""),
            {templates.TOKEN: token},
        )

    def email_change(self, col: Collection, record: Mapping[str, Any], new_email: str) -> Message:
        token = self.auth.issue(
            col, dict(record), "emailChange", extra={"email": record.get("email", ""), "newEmail": new_email}
        )
        # sent to the NEW address: whoever confirms proves they own it
        return _build(
            self.mailer,
            self._settings(),
            col,
            record,
            "confirmEmailChangeTemplate",
            new_email,
            {templates.TOKEN: token},
        )

    def otp(self, col: Collection, record: Mapping[str, Any], otp_id: str, code: str) -> Message:
        return _build(
            self.mailer,
            self._settings(),
            col,
            record,
            "otp",
            str(record.get("email") or ""),
            {templates.OTP: code, templates.OTP_ID: otp_id},
        )

    def auth_alert(self, col: Collection, record: Mapping[str, Any], info: str) -> Message:
        return _build(
            self.mailer,
            self._settings(),
            col,
            record,
            "authAlert",
            str(record.get("email") or ""),
            {templates.ALERT_INFO: info},
        )

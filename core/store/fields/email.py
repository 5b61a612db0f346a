"""email: one address, optionally limited to or barred from some domains (field_email.go)."""

from __future__ import annotations

from typing import Any

from core.store.fields.base import (
    FieldError,
    FindCollection,
    StringType,
    ValidationContext,
    required_error,
)
from core.store.fields.cast import to_string
from core.store.fields.netfmt import email_domain, is_domain, is_email
from core.store.schema import Collection, Field


def domain_lists(field: Field) -> tuple[list[str], list[str]]:
    only = [str(d) for d in field.opt("onlyDomains") or []]
    exclude = [str(d) for d in field.opt("exceptDomains") or []]
    return only, exclude


def domain_option_errors(field: Field) -> dict[str, FieldError]:
    """onlyDomains and exceptDomains exclude each other; every entry must be a domain."""
    errors: dict[str, FieldError] = {}
    only, exclude = domain_lists(field)
    for key, values, other in (("exceptDomains", exclude, only), ("onlyDomains", only, exclude)):
        if other:
            if values:
                errors[key] = FieldError("validation_empty", "Must be blank.")
            continue
        bad = {
            str(i): FieldError("validation_is_domain", "Must be a valid domain.")
            for i, d in enumerate(values)
            if not is_domain(d)
        }
        if bad:
            errors[key] = FieldError("validation_is_domain", "Must be a valid domain.", nested=bad)
    return errors


class EmailType(StringType):
    name = "email"

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        text = to_string(value)
        if text == "":
            if field.required:
                raise required_error()
            return
        if not is_email(text):
            raise FieldError("validation_is_email", "Must be a valid email address.")
        # exact, case-sensitive comparison, as PocketBase does
        domain = email_domain(text)
        only, exclude = domain_lists(field)
        if (only and domain not in only) or (exclude and domain in exclude):
            raise FieldError("validation_email_domain_not_allowed", "Email domain is not allowed.")

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        return domain_option_errors(field)

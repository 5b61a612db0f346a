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


class DomainStringType(StringType):
    """A string whose format is checked and whose domain may be limited (email, url).

    Subclasses say how to recognise the format, where the domain is, and PocketBase's error
    codes; the domain lists compare exactly and case-sensitively, as PocketBase does.
    """

    invalid: tuple[str, str] = ("", "")
    domain_not_allowed: tuple[str, str] = ("", "")

    def is_valid(self, text: str) -> bool:
        raise NotImplementedError

    def domain_of(self, text: str) -> str:
        raise NotImplementedError

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        text = to_string(value)
        if text == "":
            if field.required:
                raise required_error()
            return
        if not self.is_valid(text):
            raise FieldError(*self.invalid)
        domain = self.domain_of(text)
        only, exclude = domain_lists(field)
        if (only and domain not in only) or (exclude and domain in exclude):
            raise FieldError(*self.domain_not_allowed)

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        return domain_option_errors(field)


class EmailType(DomainStringType):
    name = "email"
    invalid = ("validation_is_email", "Must be a valid email address.")
    domain_not_allowed = ("validation_email_domain_not_allowed", "Email domain is not allowed.")

    def is_valid(self, text: str) -> bool:
        return is_email(text)

    def domain_of(self, text: str) -> str:
        return email_domain(text)

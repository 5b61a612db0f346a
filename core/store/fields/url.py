"""url: one URL, optionally limited to or barred from some hosts (field_url.go).

The domain lists compare against Go's `url.Parse(v).Host`: the port is part of it and a URL
without a scheme (`example.com/x`) has no host at all.
"""

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
from core.store.fields.email import domain_lists, domain_option_errors
from core.store.fields.netfmt import is_url, url_host
from core.store.schema import Collection, Field


class UrlType(StringType):
    name = "url"

    def validate(self, field: Field, value: Any, ctx: ValidationContext) -> None:
        text = to_string(value)
        if text == "":
            if field.required:
                raise required_error()
            return
        if not is_url(text):
            raise FieldError("validation_invalid_url", "Must be a valid url.")
        host = url_host(text)
        only, exclude = domain_lists(field)
        if (only and host not in only) or (exclude and host in exclude):
            raise FieldError("validation_url_domain_not_allowed", "Url domain is not allowed.")

    def validate_options(
        self, field: Field, collection: Collection, find_collection: FindCollection
    ) -> dict[str, FieldError]:
        return domain_option_errors(field)

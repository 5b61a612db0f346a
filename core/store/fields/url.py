"""url: one URL, optionally limited to or barred from some hosts (field_url.go).

The domain lists compare against Go's `url.Parse(v).Host`: the port is part of it and a URL
without a scheme (`example.com/x`) has no host at all.
"""

from __future__ import annotations

from core.store.fields.email import DomainStringType
from core.store.fields.netfmt import is_url, url_host


class UrlType(DomainStringType):
    name = "url"
    invalid = ("validation_invalid_url", "Must be a valid url.")
    domain_not_allowed = ("validation_url_domain_not_allowed", "Url domain is not allowed.")

    def is_valid(self, text: str) -> bool:
        return is_url(text)

    def domain_of(self, text: str) -> str:
        return url_host(text)

"""The one error type of the filter compiler, and the messages PocketBase shows for it.

`str(FilterError)` is PocketBase's raw error text (e.g. `invalid left operand "x" - unknown field
"x"`), which is what PocketBase embeds in a rule validation error. What a client sees for a bad
`?filter=`/`?sort=` is much less: a generic 400 (observed on 0.40.6, for every parse or resolve
error), or a 403 for the `@request.`/`@collection.` guard.
"""

from __future__ import annotations

# `GET /api/collections/x/records?filter=(((` on 0.40.6:
# {"data":{},"message":"Something went wrong while processing your request.","status":400}
INVALID_FILTER_MESSAGE = "Something went wrong while processing your request."

# Non-superuser client filter or sort containing the substring (checked before parsing).
# 0.40.6 checks `@collection.` first when both appear.
FILTER_BY_REQUEST_MESSAGE = "Only superusers can filter by @request."
FILTER_BY_COLLECTION_MESSAGE = "Only superusers can filter by @collection."

# Collection create/update with a rule that does not compile, as a field error of the rule:
# {"listRule": {"code": "validation_invalid_rule", "message": "Invalid rule. Raw error: <err>."}}
INVALID_RULE_CODE = "validation_invalid_rule"
INVALID_RULE_MESSAGE = "Invalid rule. Raw error: {error}."

# Raw errors reused in several places (tools/search and fexpr wording, kept verbatim).
EMPTY_FILTER = "empty filter expression"
INCOMPLETE_FILTER = "invalid or incomplete filter expression"
FILTER_LENGTH_LIMIT = "max filter length limit reached"
FILTER_EXPR_LIMIT = "max filter expressions limit reached"
SORT_EXPR_LIMIT = "max sort expressions limit reached"
SORT_FIELD_LENGTH_LIMIT = "max sort field length limit reached"
# core's own: groups nested deeper than the Python stack allows (PocketBase has no depth limit)
FILTER_NESTING_LIMIT = "max filter nesting reached"


class FilterError(Exception):
    """Any invalid filter, sort or rule. `status` is the HTTP status PocketBase answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def api_message(self) -> str:
        """The `message` of PocketBase's error JSON for a client filter/sort."""
        return self.message if self.status == 403 else INVALID_FILTER_MESSAGE

    def rule_message(self) -> str:
        """The field error message PocketBase gives when a collection rule does not compile."""
        return INVALID_RULE_MESSAGE.format(error=self.message)

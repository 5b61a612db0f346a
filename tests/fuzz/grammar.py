"""Strategies for the list/view query language: filter, sort, expand, fields.

Inputs are built from the real grammar's tokens and the fixture's field names, so most of them
get past the lexer and reach the resolver and the SQL compiler; then a few token-level and
character-level mutations make them wrong in the ways people (and attackers) get them wrong.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.schema import LABEL_VALUES, POSTS, SELECT_VALUES, TAGS, USERS

POST_FIELDS = (
    "id", "title", "slug", "views", "rank", "published", "status", "labels", "due", "meta",
    "contact", "link", "body", "where", "secret", "author", "tags", "cover", "gallery",
    "created", "updated",
)  # fmt: skip
USER_FIELDS = ("id", "email", "name", "role", "avatar", "verified", "emailVisibility", "password", "tokenKey")
PATHS = (
    "author.name", "author.role", "author.email", "author.tokenKey", "author.id", "tags.name", "tags.id",
    "meta.n", "meta.tags", "meta.nested.k", "meta.nope.deeper", "where.lon", "where.lat",
    f"author.{POSTS}_via_author.title", f"tags.{POSTS}_via_tags.views", "author.nope", "nope",
    "nope.nope", "expand", "collectionId", "collectionName",
)  # fmt: skip
REQUEST = (
    "@request.auth.id", "@request.auth.role", "@request.auth.email", "@request.auth.collectionName",
    "@request.auth.password", "@request.body.title", "@request.query.page", "@request.headers.x_token",
    "@request.method", "@request.context", "@request.nope", "@request",
    f"@collection.{TAGS}.name", f"@collection.{TAGS}:t.id", f"@collection.{USERS}.email",
    "@collection.nope.x", "@collection.", f"@collection.{POSTS}:p:q.title",
)  # fmt: skip
MACROS = (
    "@now", "@yesterday", "@tomorrow", "@todayStart", "@todayEnd", "@monthStart", "@monthEnd",
    "@yearStart", "@yearEnd", "@second", "@minute", "@hour", "@day", "@weekday", "@month", "@year",
    "@nope", "@",
)  # fmt: skip
MODIFIERS = (":each", ":length", ":lower", ":isset", ":changed", ":nope", ":", "::each", ":each:length")
OPERATORS = (
    "=", "!=", ">", ">=", "<", "<=", "~", "!~", "?=", "?!=", "?>", "?>=", "?<", "?<=", "?~", "?!~",
    "==", "=>", "<>", "!", "?", "~=",
)  # fmt: skip
JOINS = ("&&", "||", "&", "|", "&&&", "and")
# tokens that break structure when spliced in anywhere
JUNK = (
    "(", ")", "((", "))", "'", '"', "\\", "//", "/*", ",", ".", "@", ":", "?", "%", "_", "#",
    "\x00", "\n", "'unterminated", '"x', "$", "`", ";", "--", "NULL", "SELECT", "'); DROP TABLE x;--",
    "\u202e", "é", "\ud7ff", "9" * 40, "-", "+",
)  # fmt: skip

TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"])


def _quote(value: str) -> st.SearchStrategy[str]:
    return st.sampled_from(["'", '"']).map(lambda q: f"{q}{value}{q}")


literals = st.one_of(
    st.sampled_from(("true", "false", "null", "''", '""', "0", "-1", "1.5", "1e309", "-0", "0x10", ".5")),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(
        SELECT_VALUES + LABEL_VALUES + ("%", "%%", "_", "a%b", "\\'", "2025-01-15 10:00:00.000Z")
    ).flatmap(_quote),
    st.text(TEXT_CHARS, max_size=12).filter(lambda s: "'" not in s).map(lambda s: f"'{s}'"),
)


@st.composite
def identifiers(draw: st.DrawFn) -> str:
    base = draw(st.one_of(st.sampled_from(POST_FIELDS), st.sampled_from(PATHS), st.sampled_from(REQUEST)))
    if draw(st.integers(0, 3)) == 0:
        base += draw(st.sampled_from(MODIFIERS))
    return base


@st.composite
def functions(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(("strftime", "geoDistance", "nope", "STRFTIME", "strftime ")))
    args = draw(st.lists(st.one_of(identifiers(), literals, st.sampled_from(MACROS)), max_size=11))
    return f"{name}({', '.join(args)})"


operands = st.one_of(identifiers(), literals, st.sampled_from(MACROS), functions())


def _expressions() -> st.SearchStrategy[list[str]]:
    comparison = st.tuples(operands, st.sampled_from(OPERATORS), operands).map(list)
    return st.recursive(
        comparison,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(JOINS), inner).map(lambda t: [*t[0], t[1], *t[2]]),
            inner.map(lambda t: ["(", *t, ")"]),
            inner.map(lambda t: [*t, "// comment"]),
        ),
        max_leaves=6,
    )


@st.composite
def mutated(draw: st.DrawFn, tokens: list[str], joiner: st.SearchStrategy[str]) -> str:
    """Apply up to three token mutations, then maybe a character-level cut or splice."""
    tokens = list(tokens)
    for _ in range(draw(st.integers(0, 3))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        kind = draw(st.sampled_from(("drop", "dup", "junk", "swap", "keep")))
        if kind == "drop":
            del tokens[i]
        elif kind == "dup":
            tokens.insert(i, tokens[i])
        elif kind == "junk":
            tokens.insert(i, draw(st.sampled_from(JUNK)))
        elif kind == "swap" and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
    sep = draw(joiner)
    text = sep.join(tokens)
    cut = draw(st.sampled_from(("none", "none", "none", "truncate", "char")))
    if text and cut == "truncate":
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif text and cut == "char":
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.text(TEXT_CHARS, min_size=1, max_size=2)) + text[i:]
    return text


@st.composite
def filters(draw: st.DrawFn) -> str:
    tokens = draw(_expressions())
    if draw(st.integers(0, 15)) == 0:
        # over the 200-expression / 3500-char limits
        tokens = [*tokens, *(["||", "id", "=", "'x'"] * draw(st.integers(60, 1000)))]
    return draw(mutated(tokens, st.sampled_from((" ", " ", "", "\t", "\n", "  "))))


@st.composite
def sorts(draw: st.DrawFn) -> str:
    item = st.tuples(
        st.sampled_from(("", "", "-", "+", "--", "+-", " ")),
        st.one_of(identifiers(), st.sampled_from(("@random", "@rowid", "@nope", "")), functions()),
    ).map("".join)
    return draw(mutated(draw(st.lists(item, max_size=10)), st.sampled_from((",", ", ", ",,", " "))))


EXPAND_STEPS = (
    "author", "tags", f"{POSTS}_via_author", f"{POSTS}_via_tags", "title", "nope", "author_via_x",
    f"{USERS}_via_author", "", "cover", "@request", "*",
)  # fmt: skip


@st.composite
def expands(draw: st.DrawFn) -> str:
    path = st.lists(st.sampled_from(EXPAND_STEPS), min_size=1, max_size=8).map(".".join)
    return draw(mutated(draw(st.lists(path, max_size=5)), st.sampled_from((",", ", ", ",,"))))


@st.composite
def field_lists(draw: st.DrawFn) -> str:
    excerpt = st.tuples(
        st.sampled_from(("title", "body", "meta", "views", "nope", "*")),
        st.sampled_from(("", "10", "-1", "0", "x", "1e9", "10,true", "10, false", "10,x", "10,1,2", "", ")")),
    ).map(lambda t: f"{t[0]}:excerpt({t[1]})")
    item = st.one_of(
        st.sampled_from((*POST_FIELDS, "*", "expand", "expand.author", "expand.author.name", "expand.*")),
        st.sampled_from(("expand.tags.*", "expand.nope.x", "", "a:b", ":excerpt", "title:nope(1)")),
        excerpt,
    )
    return draw(mutated(draw(st.lists(item, max_size=8)), st.sampled_from((",", ", ", ",,"))))


numbers_as_text = st.one_of(
    st.sampled_from(("", "0", "-1", "1", "1000", "1001", "99999999999999999999", "1.5", "x", "1e3", " 2")),
    # where 64-bit integers overflow, alone and once multiplied by perPage
    st.sampled_from(
        ("9223372036854775807", "9223372036854775808", "-9223372036854775809", "4611686018427387904")
    ),
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
)


@st.composite
def list_params(draw: st.DrawFn) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, strategy in (
        ("filter", filters()),
        ("sort", sorts()),
        ("expand", expands()),
        ("fields", field_lists()),
        ("page", numbers_as_text),
        ("perPage", numbers_as_text),
        ("skipTotal", st.sampled_from(("1", "0", "true", "false", "x", ""))),
    ):
        if draw(st.booleans()):
            params[name] = draw(strategy)
    return params


def paging_params() -> st.SearchStrategy[dict[str, str]]:
    """page/perPage/skipTotal alone: mixed with a broken filter they would never reach the query."""
    return st.fixed_dictionaries(
        {},
        optional={
            "page": numbers_as_text,
            "perPage": numbers_as_text,
            "skipTotal": st.sampled_from(("1", "0")),
        },
    )


@st.composite
def view_params(draw: st.DrawFn) -> dict[str, str]:
    params: dict[str, str] = {}
    if draw(st.booleans()):
        params["expand"] = draw(expands())
    if draw(st.booleans()):
        params["fields"] = draw(field_lists())
    return params

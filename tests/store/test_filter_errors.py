"""Bad input: syntax errors, unknown fields, injection attempts, limits, forbidden fields.

Everything must raise FilterError (never reach SQLite as SQL). CLIENT_ERRORS also records the
HTTP status PocketBase answers with; RULE_ERRORS the exact raw message PocketBase puts in a rule
validation error ("Invalid rule. Raw error: <message>.").
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.store.filter import (
    FILTER_BY_COLLECTION_MESSAGE,
    FILTER_BY_REQUEST_MESSAGE,
    INVALID_FILTER_MESSAGE,
    FilterError,
    check_rule_syntax,
    compile_filter,
    compile_sort,
)
from tests.store.test_filter_data import FilterDB, fdb

__all__ = ["fdb"]


@dataclass
class ClientError:
    filter: str = ""
    sort: str = ""
    who: str = "su"
    status: int = 400
    collection: str = "posts"


INJECTIONS = [
    "title = 1 ;DROP TABLE posts",
    "title = 1) OR 1=1 --",
    "title = '' OR 1=1",
    "title = 'x' -- comment",
    "title = 'x' /* c */",
    "title = 'x'; DELETE FROM posts",
    'title" = 1',
    "title` = 1",
    "posts.title = 1",
    '"posts"."title" = \'x\'',
    "title = x'00'",
    "title = 1 UNION SELECT 1",
    "@collection.posts;drop.id = 1",
    "@request.query.a'b = 1",
    "title = '\\'' OR 1=1 --",
    "meta.a'b = 1",
    "(SELECT 1) = 1",
    "sqlite_master.name = 1",
    "@collection.sqlite_master.name = 1",
    "title = char(65)",
    "id = 1 || 1",
]

SYNTAX = [
    "(((",
    "title =",
    "= 1",
    "title",
    "title = 1 &&",
    "title = 1 title = 2",
    "title == 1",
    "title =! 1",
    "title = 'abc",
    'title = "abc',
    "title & 1",
    "title = 1 ||| views = 2",
    "1. = 1",
    ".5 = 1",
    "1.5.3 = 1",
    "views = -",
    "views = 1e5",
    "views = 0x10",
    "// only a comment",
    "title = 1 / 2",
    "   ",
    "\n",
    "()",
    "title = 1 && ()",
    "# = 1",
    "_ = 1",
    "a. = 1",
    "a: = 1",
    "é = 1",
    "views = 10\r\n",
    "geoDistance(1,2,3,4 = 1",
    "geoDistance (1,2,3,4) = 1",
    "(views = 10 // a ) in a comment still closes the group\n)",
]

RESOLVE = [
    "nope = 1",
    "nope.x = 1",
    "title:foo = 1",
    "title:lower:lower = 1",
    "title.name = 1",
    "cats:each.name = 'x'",
    "collectionId = 'x'",
    "ID = 'x'",
    "Title = 'x'",
    "comments_via_post:length = 0",
    "nope_via_post.message = 1",
    "comments_via_nope.message = 1",
    "comments_via_message.message = 1",
    "users_via_author.name = 1",
    "foo() = 1",
    "lower(title) = 'x'",
    "geoDistance(1,2,3) = 1",
    "geoDistance('a',2,3,4) = 1",
    "geoDistance(nope, 1, 2, 3) > 0",
    "strftime(1) = 1",
    "strftime() = 1",
    "strftime('%Y', due, 1) = 1",
    "strftime('%Y', strftime('%Y', due)) = 1",
    "a(b(c(d(1)))) = 1",
    "@request.nope = 1",
    "@request.context:isset = true",
    "@request.body.title:each = 1",
    "@request.query.a:each = 1",
    "@request.body.nope:changed = false",
    "@collection.nope.x = 1",
    "@collection.categories = 1",
    "@collection.categories.nope = 1",
    "@foo = 1",
    "a.b.c.d.e.f.g.h = 1",
    "author.friends.friends.friends.friends.friends.friends.name = 1",
]

CLIENT_ERRORS = [ClientError(f) for f in INJECTIONS + SYNTAX + RESOLVE] + [
    # hidden fields and locked (null listRule) collections, for non-superusers only
    ClientError("note = 'n1'", who="u1"),
    ClientError("note:isset = true", who="guest"),
    ClientError("author.secret = 's1'", who="u1"),
    ClientError("secret = 's1'", who="u1", collection="users"),
    ClientError("editor.name = 'Ed'", who="u1"),
    ClientError("editor.name != ''", who="guest"),
    # the superuser-only guard is a substring test: a 403, even inside a string
    ClientError("@request.auth.id != ''", who="u1", status=403),
    ClientError("title = '@request.auth'", who="guest", status=403),
    ClientError("title = '@request.x'", who="guest", status=403),
    ClientError("@collection.users.id = 'x'", who="guest", status=403),
    ClientError("@request.auth.id = 'x' && @collection.users.id = 'x'", who="u1", status=403),
    ClientError(sort="@request.auth.id", who="u1", status=403),
    ClientError(sort="@collection.users.name", who="guest", status=403),
    # sort
    ClientError(sort="nope"),
    ClientError(sort="'title'"),
    ClientError(sort="title;DROP"),
    ClientError(sort="title DESC"),
    ClientError(sort="title) --"),
    ClientError(sort="a,b,c,d,e,f,g,h,i"),
    ClientError(sort="id,id,id,id,id,id,id,id,id"),
    ClientError(sort="title,"),
    ClientError(sort=" "),
    ClientError(sort="geoDistance(location.lon,location.lat,0,0)"),
    ClientError(sort="null"),
    ClientError(sort="true"),
    ClientError(sort="@now"),
    ClientError(sort="--views"),
    ClientError(sort="-+views"),
    ClientError(sort="@request.auth.id"),
    ClientError(sort="@request.query.perPage"),
    ClientError(sort="x" * 256),
    ClientError(sort="note", who="u1"),
    ClientError(sort="editor.name", who="u1"),
    # limits
    ClientError(" || ".join(["views = 1"] * 201)),
    ClientError("title = '" + "x" * 3500 + "'"),
]


def _run(fdb: FilterDB, case: ClientError) -> None:
    ctx = fdb.context(case.collection, case.who)
    if case.filter:
        compile_filter(case.filter, ctx)
    if case.sort:
        compile_sort(case.sort, ctx)


@pytest.mark.parametrize("case", CLIENT_ERRORS, ids=[f"{c.who}:{c.filter}:{c.sort}" for c in CLIENT_ERRORS])
def test_client_error(fdb: FilterDB, case: ClientError) -> None:
    with pytest.raises(FilterError) as err:
        _run(fdb, case)
    assert err.value.status == case.status
    if case.status == 403:
        expected = (
            FILTER_BY_COLLECTION_MESSAGE
            if "@collection." in case.filter + case.sort
            else FILTER_BY_REQUEST_MESSAGE
        )
        assert err.value.api_message == expected == str(err.value)
    else:
        assert err.value.api_message == INVALID_FILTER_MESSAGE


@pytest.mark.parametrize("flt", INJECTIONS)
def test_injection_never_touches_the_database(fdb: FilterDB, flt: str) -> None:
    before = fdb.conn.execute("SELECT count(*) FROM posts").fetchone()
    with pytest.raises(FilterError):
        compile_filter(flt, fdb.context("posts"))
    assert fdb.conn.execute("SELECT count(*) FROM posts").fetchone() == before


@pytest.mark.parametrize(
    "value",
    [
        "'; DROP TABLE posts; --",
        "x' OR '1'='1",
        '") OR 1=1 --',
        "%' OR 1=1 --",
        "\\'; --",
        "\x00",
        "?",
        "?1",
        ":a",
    ],
)
def test_hostile_values_stay_bound_parameters(fdb: FilterDB, value: str) -> None:
    quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    for flt in [
        f"title = {quoted}",
        f"title ~ {quoted}",
        f"meta.tag != {quoted}",
        f"@request.query.q = {quoted}",
    ]:
        sql = compile_filter(flt, fdb.context("posts", query={"q": value}))
        assert len(value) < 3 or value not in sql.sql
        assert sql.sql.count("?") == len(sql.params)
        fdb.conn.execute(f'SELECT count(*) FROM posts AS "t" WHERE {sql.sql}', sql.params).fetchall()
    assert fdb.conn.execute("SELECT count(*) FROM posts").fetchone() == (5,)


def test_expression_limit_is_200(fdb: FilterDB) -> None:
    ctx = fdb.context("posts")
    compile_filter(" || ".join(["views = 1"] * 200), ctx)
    compile_filter(
        "(" + " || ".join(["views = 1"] * 100) + ") && (" + " || ".join(["views = 2"] * 100) + ")", ctx
    )
    with pytest.raises(FilterError, match="max filter expressions limit reached"):
        compile_filter(
            "(" + " || ".join(["views = 1"] * 100) + ") && (" + " || ".join(["views = 2"] * 101) + ")", ctx
        )


def test_length_limit_is_3500_bytes(fdb: FilterDB) -> None:
    ctx = fdb.context("posts")
    base = "title = ''"
    compile_filter("title = '" + "x" * (3500 - len(base)) + "'", ctx)
    with pytest.raises(FilterError, match="max filter length limit reached"):
        compile_filter("title = '" + "x" * (3501 - len(base)) + "'", ctx)
    with pytest.raises(FilterError, match="max filter length limit reached"):
        compile_filter("title = '" + "é" * 1750 + "'", ctx)  # 2 bytes each


def test_deep_nesting_is_a_filter_error(fdb: FilterDB) -> None:
    ctx = fdb.context("posts")
    compile_filter("(" * 300 + "views = 1" + ")" * 300, ctx)
    # PocketBase parses ~1700 levels; core stops where Python's stack does, with a clean error
    # (it was a RecursionError, logged with a traceback a thousand frames long)
    with pytest.raises(FilterError, match="max filter nesting reached"):
        compile_filter("(" * 1700 + "views = 1" + ")" * 1700, ctx)
    with pytest.raises(FilterError, match="max filter nesting reached"):
        check_rule_syntax("(" * 1700 + "views = 1" + ")" * 1700, ctx.collection, ctx.find_collection)


def test_sort_limits(fdb: FilterDB) -> None:
    ctx = fdb.context("posts")
    compile_sort(",".join(["id"] * 8), ctx)
    with pytest.raises(FilterError, match="max sort expressions limit reached"):
        compile_sort(",".join(["id"] * 9), ctx)
    with pytest.raises(FilterError, match="max sort field length limit reached"):
        compile_sort("x" * 256, ctx)


# (rule, PocketBase's raw error; "" = valid) — checked with check_rule_syntax on `posts`
RULE_ERRORS = [
    ("(((", "invalid formatted group - missing 3 closing bracket(s)"),
    ("title =", "invalid or incomplete filter expression"),
    ("= 1", 'expected left operand (identifier, function, text or number), got "=" (sign)'),
    ("title 'x'", 'expected a sign operator, got "x" (text)'),
    ("title = = 1", 'expected right operand (identifier, function text or number), got "=" (sign)'),
    ("title = &&", 'expected right operand (identifier, function text or number), got "&&" (join)'),
    ("title = 1 title = 2", 'expected && or ||, got "title" (identifier)'),
    ("&& title = 1", 'expected left operand (identifier, function, text or number), got "&&" (join)'),
    ("title = 'x' ||", "invalid or incomplete filter expression"),
    ("title == 1", 'invalid sign operator "=="'),
    ("title ? 1", 'invalid sign operator "?"'),
    ("title = 'abc", 'invalid quoted text "\'abc"'),
    ('title = "abc', 'invalid quoted text "\\"abc"'),
    ("title & 1", 'invalid join operator "&"'),
    ("title = 'x' &&& views = 1", 'invalid join operator "&&&"'),
    ("1.5.3 = 1", "unexpected character '.'"),
    ("1. = 1", 'invalid number "1."'),
    ("views = -a", 'invalid number "-"'),
    ("title = )", "unexpected character ')'"),
    ("title = $", "unexpected character '$'"),
    ("é = 1", "unexpected character 'é'"),
    ("views = 1e5", 'expected && or ||, got "e5" (identifier)'),
    ("title = 'a' 'b'", 'expected && or ||, got "b" (text)'),
    ("title = ''''", 'expected && or ||, got "" (text)'),
    ("// only a comment", "empty filter expression"),
    ("  ", "empty filter expression"),
    ("()", "empty filter expression"),
    ("title = 1 && ()", "empty filter expression"),
    ("title = 1 / 2", "invalid comment"),
    ("# = 1", 'invalid identifier "#"'),
    ("@ = 1", 'invalid identifier "@"'),
    ("a. = 1", 'invalid identifier "a."'),
    ("@request.auth. = 1", 'invalid identifier "@request.auth."'),
    ("nope = 1", 'invalid left operand "nope" - unknown field "nope"'),
    ("title = nope", 'invalid right operand "nope" - unknown field "nope"'),
    ("nope.x = 1", 'invalid left operand "nope.x" - failed to resolve field "nope"'),
    ("a.b:c.d = 1", 'invalid left operand "a.b:c.d" - failed to resolve field "a"'),
    ("title:foo = 1", 'invalid left operand "title:foo" - unknown modifier in "title:foo"'),
    ("title:lower:lower = 1", 'invalid left operand "title:lower:lower" - unknown field "title:lower:lower"'),
    ("title:lower.x = 1", 'invalid left operand "title:lower.x" - failed to resolve field "title:lower"'),
    ("#a = 1", 'invalid left operand "#a" - failed to resolve field "#a"'),
    ("@foo = 1", 'invalid left operand "@foo" - failed to resolve field "@foo"'),
    ("@request.nope = 1", 'invalid left operand "@request.nope" - failed to resolve field "@request.nope"'),
    (
        "@request.context:isset = true",
        'invalid left operand "@request.context:isset" - failed to resolve field "@request.context:isset"',
    ),
    (
        "@collection.nope.x = 1",
        'invalid left operand "@collection.nope.x" - failed to load collection "nope" from field path '
        '"@collection.nope.x"',
    ),
    (
        "@collection.categories = 1",
        'invalid left operand "@collection.categories" - failed to resolve field "@collection.categories"',
    ),
    (
        "@collection.categories.nope = 1",
        'invalid left operand "@collection.categories.nope" - unknown field "nope"',
    ),
    (
        "@request.body.nope:changed = false",
        'invalid left operand "@request.body.nope:changed" - invalid modifier sequence nope:changed',
    ),
    (
        "@request.query.a:each = 1",
        'invalid left operand "@request.query.a:each" - invalid modifier sequence a:each',
    ),
    (
        "@request.body.title:each = 1",
        'invalid left operand "@request.body.title:each" - field "title" doesn\'t support multivalue operations',
    ),
    (
        "@request.body.title:length = 1",
        'invalid left operand "@request.body.title:length" - field "title" doesn\'t support multivalue operations',
    ),
    (
        "nope_via_post.message = 1",
        'invalid left operand "nope_via_post.message" - failed to load back relation field "nope_via_post" collection',
    ),
    (
        "comments_via_nope.message = 1",
        'invalid left operand "comments_via_nope.message" - missing back relation field "nope"',
    ),
    (
        "comments_via_message.message = 1",
        'invalid left operand "comments_via_message.message" - invalid back relation field "message"',
    ),
    (
        "users_via_author.name = 1",
        'invalid left operand "users_via_author.name" - missing back relation field "author"',
    ),
    ("foo() = 1", 'invalid left operand "foo" - unknown function "foo"'),
    ("lower(title) = 'x'", 'invalid left operand "lower" - unknown function "lower"'),
    (
        "geoDistance(1,2,3) = 1",
        'invalid left operand "geoDistance" - [geoDistance] expected 4 arguments, got 3',
    ),
    (
        "geoDistance('a',2,3,4) = 1",
        'invalid left operand "geoDistance" - [geoDistance] argument 0 must be an identifier or number',
    ),
    (
        "geoDistance(nope, 1, 2, 3) > 0",
        'invalid left operand "geoDistance" - [geoDistance] failed to resolve argument 0: unknown field "nope"',
    ),
    (
        "geoDistance(geoDistance(1,2,3,4),2,3,4) = 1",
        'invalid left operand "geoDistance" - [geoDistance] argument 0 must be an identifier or number',
    ),
    (
        "strftime(1) = 1",
        'invalid left operand "strftime" - [strftime] expects the first argument to be a format string',
    ),
    ("strftime() = 1", 'invalid left operand "strftime" - [strftime] expected at least 1 arguments, got 0'),
    (
        "strftime('%Y', due, 1) = 1",
        'invalid left operand "strftime" - [strftime] invalid modifier argument 0 - can be only string',
    ),
    (
        "strftime('%Y',due,'a','b','c','d','e','f','g','h','i') = 1",
        'invalid left operand "strftime" - [strftime] too many arguments (max allowed 10, got 11)',
    ),
    (
        "strftime('%Y', strftime('%Y', due)) = 1",
        'invalid left operand "strftime" - [strftime] expects the second argument to be of a valid time-value type',
    ),
    (
        "a(b(c(d(1)))) = 1",
        'invalid identifier argument "b" in function "a": invalid identifier argument "c" in function "b": '
        'invalid identifier argument "d" in function "c": max nested function arguments reached (max: 3)',
    ),
    ("geoDistance(1,,2) = 1", 'unexpected comma in function "geoDistance"'),
    ("geoDistance(,1) = 1", 'unexpected comma in function "geoDistance"'),
    ("geoDistance(1 2) = 1", 'expected comma after the last argument in function "geoDistance"'),
    ("geoDistance(1;2) = 1", 'expected comma after the last argument in function "geoDistance"'),
    ("geoDistance(1,2,3,4)", "invalid or incomplete filter expression"),
    ("geoDistance (1,2,3,4) = 1", "unexpected character ','"),
    ("title = 1 ;DROP TABLE posts", "unexpected character ';'"),
    ("title = 1) OR 1=1 --", "unexpected character ')'"),
    # accepted by PocketBase
    ("note = 1", ""),
    ("-5 = views", ""),
    ("title = 1 // comment", ""),
    ("(title = 1) (views = 2)", ""),
    ("title (views = 2)", ""),
    ("geoDistance(1,2,3,4,) = 1", ""),
    ("@request.auth.nope.x = 1", ""),
    ("@request.headers.x:lower = 'a'", ""),
    ("@request.auth.id:isset = true", ""),
    ("@request.body.tags:each:x = 1", ""),
    ("title = @request.body.a.b.c", ""),
    ("strftime('%Y', due, 'start of month', '+1 day') != ''", ""),
    ("geoDistance(location.lon, location.lat, -1.5, null) > 0", ""),
    ("editor.name = 'x'", ""),
]


@pytest.mark.parametrize("rule,error", RULE_ERRORS, ids=[r for r, _ in RULE_ERRORS])
def test_rule_error_messages(fdb: FilterDB, rule: str, error: str) -> None:
    posts = fdb.collections["posts"]
    if not error:
        check_rule_syntax(rule, posts, fdb.find)
        return
    with pytest.raises(FilterError) as err:
        check_rule_syntax(rule, posts, fdb.find)
    assert str(err.value) == error
    assert err.value.rule_message() == f"Invalid rule. Raw error: {error}."


def test_null_and_empty_rules_are_valid(fdb: FilterDB) -> None:
    posts = fdb.collections["posts"]
    check_rule_syntax(None, posts, fdb.find)
    check_rule_syntax("", posts, fdb.find)

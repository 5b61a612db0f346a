"""PocketBase 0.40 filters and API rules compiled to parameterized SQLite SQL.

    sql = compile_filter('author.name ~ "ann" && tags:each ?= "go"', ctx)
    rows = conn.execute(f'SELECT t.* FROM "posts" AS t WHERE ({sql.sql})', sql.params)

Pure: no web imports. The pipeline, one module per step:
- lexer, parser, ast: PocketBase's `fexpr` grammar, errors and quirks included;
- resolver, request_fields, fieldnames, sqljson: field names to SQL operands and the joins they
  need (relations, back-relations, json paths, @collection, @request.*);
- simple: the fixed field lists of the lists that are not records (collections, logs);
- macros, functions: @now & co, geoDistance(), strftime();
- operators: one comparison with PocketBase's NULL/'' and "every item" (multi-match) rules;
- compiler: groups, listRules of related collections, the EXISTS wrapper; sort: ORDER BY;
- results, sqlfrag, gostr, context, errors: the data types and small helpers they share.
Behaviour was checked against the pocketbase 0.40.6 binary (tests/store/test_filter_pocketbase.py).
"""

from __future__ import annotations

from core.store.filter.compiler import (
    MAX_FILTER_EXPRESSIONS,
    MAX_FILTER_LENGTH,
    check_client_expression,
    check_rule_syntax,
    compile_filter,
)
from core.store.filter.context import SQL, CollectionFinder, FilterContext, RequestInfo
from core.store.filter.errors import (
    FILTER_BY_COLLECTION_MESSAGE,
    FILTER_BY_REQUEST_MESSAGE,
    INVALID_FILTER_MESSAGE,
    INVALID_RULE_CODE,
    INVALID_RULE_MESSAGE,
    FilterError,
)
from core.store.filter.simple import simple_context
from core.store.filter.sort import MAX_SORT_EXPRESSIONS, compile_sort
from core.store.filter.sqlfunctions import register_sql_functions

__all__ = [
    "FILTER_BY_COLLECTION_MESSAGE",
    "FILTER_BY_REQUEST_MESSAGE",
    "INVALID_FILTER_MESSAGE",
    "INVALID_RULE_CODE",
    "INVALID_RULE_MESSAGE",
    "MAX_FILTER_EXPRESSIONS",
    "MAX_FILTER_LENGTH",
    "MAX_SORT_EXPRESSIONS",
    "SQL",
    "CollectionFinder",
    "FilterContext",
    "FilterError",
    "RequestInfo",
    "check_client_expression",
    "check_rule_syntax",
    "compile_filter",
    "compile_sort",
    "register_sql_functions",
    "simple_context",
]

"""Property-based fuzzing of a live `core serve` (Hypothesis).

Each module starts its own server with the schema in `schema.py` and throws generated input at
it: query parameters (`test_query`), write bodies as JSON, multipart and batch (`test_writes`),
and raw bytes over a socket (`test_raw_http`). Every answer must be below 500, every 4xx must be
PocketBase's `{status, message, data}`, bad input must not log a traceback, and a write that was
not answered 2xx must leave rows and stored files exactly as they were.

    pytest tests/fuzz -q                                  # fixed examples, well under a minute
    CORE_FUZZ_EXAMPLES=2000 CORE_FUZZ_RANDOM=1 pytest tests/fuzz -q   # longer, new inputs each run
    CORE_FUZZ_COLLECT=/tmp/f.jsonl ... pytest tests/fuzz  # record every failure instead of stopping
    python -m tests.fuzz.report /tmp/f.jsonl              # each distinct failure with its shortest input
"""

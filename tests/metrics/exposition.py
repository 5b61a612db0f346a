"""A strict reader of Prometheus' text format 0.0.4, for the tests: every sample line must belong
to the family its HELP/TYPE lines announced, and samples are returned by name and labels."""

from __future__ import annotations

import re

import httpx

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_SUFFIXES = ("_bucket", "_sum", "_count", "_total")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[dict[str, str], Samples]:
    """(type per family, value per (sample name, labels)); AssertionError on anything malformed."""
    types: dict[str, str] = {}
    samples: Samples = {}
    current = ""
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            current = line.split(" ", 3)[2]
            assert current not in types, f"family {current} announced twice"
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == current and kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        found = _SAMPLE.match(line)
        assert found, f"not a sample line: {line!r}"
        name, _, labels, value = found.groups()
        family = name
        for suffix in _SUFFIXES:
            if name.endswith(suffix) and name.removesuffix(suffix) == current:
                family = current
        assert family == current, f"{name} outside its family ({current})"
        pairs = frozenset(_LABEL.findall(labels or ""))
        samples[(name, pairs)] = float(value)
    return types, samples


def scrape(url: str) -> tuple[dict[str, str], Samples]:
    resp = httpx.get(url, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(resp.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample of `name` whose labels include `labels` (0 when absent); summed if several match."""
    wanted = set(labels.items())
    return sum(v for (n, pairs), v in samples.items() if n == name and wanted <= pairs)


def names(samples: Samples) -> set[str]:
    return {n for n, _ in samples}

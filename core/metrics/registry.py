"""Counters, gauges and histograms with labels, rendered in Prometheus' text format 0.0.4.

A family's samples can also be taken out as plain data (`samples`) and added back into another
registry (`merge`): that is how the `--workers` leader sums its followers' metrics.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import Any

Labels = tuple[str, ...]

# seconds: from a cached record view (~100 us) to a slow request
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Family:
    kind = ""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labels = tuple(labels)

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {_escape_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        for suffix, labels, extra, value in self.samples():
            yield f"{self.name}{suffix}{_label_text(self.labels, labels, extra)} {_number(value)}"

    def samples(self) -> list[tuple[str, Labels, tuple[tuple[str, str], ...], float]]:
        raise NotImplementedError

    def merge(self, samples: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError


class Counter(Family):
    """A value that only goes up (per label values); `set_total` for counts kept elsewhere."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        # a family without labels shows 0 before its first increment, as Prometheus expects
        self.values: dict[Labels, float] = {} if labels else {(): 0.0}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def set_total(self, value: float, *labels: str) -> None:
        self.values[labels] = float(value)

    def samples(self) -> list[tuple[str, Labels, tuple[tuple[str, str], ...], float]]:
        suffix = "" if self.name.endswith("_total") else "_total"
        return [(suffix, labels, (), value) for labels, value in sorted(self.values.items())]

    def merge(self, samples: Iterable[Sequence[Any]]) -> None:
        for _suffix, labels, _extra, value in samples:
            self.inc(*labels, amount=float(value))


class Gauge(Counter):
    """A value that goes up and down; merged across processes by adding (counts of things)."""

    kind = "gauge"

    def set(self, value: float, *labels: str) -> None:
        self.values[labels] = float(value)

    def samples(self) -> list[tuple[str, Labels, tuple[tuple[str, str], ...], float]]:
        return [("", labels, (), value) for labels, value in sorted(self.values.items())]


class Histogram(Family):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labels)
        self.bounds = tuple(sorted(buckets))
        # per label values: a count per bucket (not cumulative; the last one is +Inf), and the sum
        self.series: dict[Labels, tuple[list[int], list[float]]] = {}
        if not labels:
            self.series[()] = ([0] * (len(self.bounds) + 1), [0.0])

    def observe(self, value: float, *labels: str) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = ([0] * (len(self.bounds) + 1), [0.0])
        series[0][bisect.bisect_left(self.bounds, value)] += 1
        series[1][0] += value

    def samples(self) -> list[tuple[str, Labels, tuple[tuple[str, str], ...], float]]:
        out: list[tuple[str, Labels, tuple[tuple[str, str], ...], float]] = []
        for labels, (counts, total) in sorted(self.series.items()):
            running = 0
            for bound, count in zip((*self.bounds, math.inf), counts, strict=True):
                running += count
                out.append(("_bucket", labels, (("le", _number(bound)),), running))
            out.append(("_sum", labels, (), total[0]))
            out.append(("_count", labels, (), running))
        return out

    def merge(self, samples: Iterable[Sequence[Any]]) -> None:
        by_labels: dict[Labels, dict[str, Any]] = {}
        for suffix, labels, _extra, value in samples:
            entry = by_labels.setdefault(tuple(labels), {"buckets": [], "sum": 0.0})
            if suffix == "_bucket":
                entry["buckets"].append(float(value))
            elif suffix == "_sum":
                entry["sum"] = float(value)
        for labels, entry in by_labels.items():
            cumulative = entry["buckets"]
            if len(cumulative) != len(self.bounds) + 1:
                continue  # another bucket layout (another version of core): not addable
            series = self.series.get(labels)
            if series is None:
                series = self.series[labels] = ([0] * (len(self.bounds) + 1), [0.0])
            previous = 0.0
            for i, value in enumerate(cumulative):
                series[0][i] += int(value - previous)
                previous = value
            series[1][0] += entry["sum"]


class Registry:
    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def add(self, family: Family) -> Any:
        self.families[family.name] = family
        return family

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        return self.add(Counter(name, help_text, labels))  # type: ignore[no-any-return]

    def gauge(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Gauge:
        return self.add(Gauge(name, help_text, labels))  # type: ignore[no-any-return]

    def histogram(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return self.add(Histogram(name, help_text, labels, buckets))  # type: ignore[no-any-return]

    def render(self) -> str:
        return "".join(line + "\n" for family in self.families.values() for line in family.lines())

    def dump(self) -> dict[str, list[list[Any]]]:
        """Every family's samples as JSON-able data (for another process to merge)."""
        return {
            name: [
                [s, list(labels), [list(e) for e in extra], value] for s, labels, extra, value in f.samples()
            ]
            for name, f in self.families.items()
        }

    def merge(self, dumped: dict[str, list[list[Any]]]) -> None:
        """Add another process's `dump` to this registry's families of the same names."""
        for name, samples in dumped.items():
            family = self.families.get(name)
            if family is not None:
                family.merge((s, tuple(labels), extra, value) for s, labels, extra, value in samples)


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(names: Labels, values: Labels, extra: Iterable[Sequence[str]]) -> str:
    pairs = [f'{n}="{_escape_value(v)}"' for n, v in zip(names, values, strict=False)]
    pairs += [f'{n}="{_escape_value(v)}"' for n, v in extra]
    return "{" + ",".join(pairs) + "}" if pairs else ""

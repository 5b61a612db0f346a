"""The hand-written exposition: format, escaping, histograms, and adding another process's samples."""

from __future__ import annotations

from core.metrics.registry import Registry
from tests.metrics.exposition import parse, value


def test_render_is_valid_exposition_with_cumulative_buckets() -> None:
    reg = Registry()
    requests = reg.counter("x_requests_total", "Requests.\nSecond line", ("route", "status"))
    requests.inc("/a/{id}", "2xx")
    requests.inc("/a/{id}", "2xx")
    requests.inc('we"ird\\', "4xx")
    sizes = reg.histogram("x_size", "Sizes.", buckets=(1, 4))
    for v in (1, 2, 3, 9):
        sizes.observe(v)
    reg.gauge("x_lag", "Lag.").set(2.5)
    text = reg.render()
    assert "# HELP x_requests_total Requests.\\nSecond line\n" in text
    types, samples = parse(text)
    assert types == {"x_requests_total": "counter", "x_size": "histogram", "x_lag": "gauge"}
    assert value(samples, "x_requests_total", route="/a/{id}") == 2
    assert value(samples, "x_requests_total", route='we\\"ird\\\\') == 1
    assert value(samples, "x_size_bucket", le="1") == 1
    assert value(samples, "x_size_bucket", le="4") == 3
    assert value(samples, "x_size_bucket", le="+Inf") == 4
    assert value(samples, "x_size_count") == 4 and value(samples, "x_size_sum") == 15
    assert value(samples, "x_lag") == 2.5


def test_merge_adds_another_process_samples() -> None:
    def make() -> Registry:
        reg = Registry()
        reg.counter("c_total", "C.", ("route",))
        reg.histogram("h", "H.", buckets=(1, 10))
        return reg

    one, two = make(), make()
    one.families["c_total"].inc("/x")  # type: ignore[attr-defined]
    two.families["c_total"].inc("/x", amount=2)  # type: ignore[attr-defined]
    two.families["c_total"].inc("/y")  # type: ignore[attr-defined]
    one.families["h"].observe(5)  # type: ignore[attr-defined]
    two.families["h"].observe(0.5)  # type: ignore[attr-defined]
    two.families["h"].observe(50)  # type: ignore[attr-defined]
    total = make()
    total.merge(one.dump())
    total.merge(two.dump())
    _, samples = parse(total.render())
    assert value(samples, "c_total", route="/x") == 3 and value(samples, "c_total", route="/y") == 1
    assert value(samples, "h_bucket", le="1") == 1
    assert value(samples, "h_bucket", le="10") == 2
    assert value(samples, "h_count") == 3 and value(samples, "h_sum") == 55.5

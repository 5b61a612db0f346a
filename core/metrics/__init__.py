"""Prometheus metrics of one `core serve` process, served on a listener of their own
(`--metrics-http ADDR`, off by default), never on the public HTTP port.

Written by hand instead of with prometheus_client: the text format 0.0.4 is a page of code,
it keeps the one-file executable free of another package, and the hot request path pays for
one dict lookup and a few additions per request (no locks: everything that records a value
runs on the event loop, except the write-group sizes, recorded on the writer thread, where a
lost increment under a race would only miscount one group).

With `--workers N` the leader's listener asks every follower for its samples over the
workers' NATS connection and adds them up (core/metrics/workers.py), so a scrape sees the
whole server, as with one process.
"""

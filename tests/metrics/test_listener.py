"""`core serve --metrics-http ADDR`: a real server's metrics listener, scraped and parsed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.metrics.exposition import names, scrape, value
from tests.servers import REPO_ROOT, free_port, start_core, superuser_client

RECORD_ROUTE = "/api/collections/{collection}/records/{id}"


def test_requests_and_write_groups_are_counted_by_route_template(tmp_path: Path) -> None:
    port = free_port()
    server = start_core(tmp_path / "data", extra_args=["--no-nats", "--metrics-http", f"127.0.0.1:{port}"])
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        _, before = scrape(url)
        assert value(before, "core_http_requests_total", route="/api/health", method="GET", status="2xx") >= 1
        http = superuser_client(server)
        try:
            made = http.post(
                "/api/collections", json={"name": "notes", "fields": [{"name": "t", "type": "text"}]}
            )
            assert made.status_code == 200, made.text
            ids = []
            for i in range(3):
                resp = http.post("/api/collections/notes/records", json={"t": f"n{i}"})
                assert resp.status_code == 200, resp.text
                ids.append(resp.json()["id"])
            for record_id in ids:
                assert http.get(f"/api/collections/notes/records/{record_id}").status_code == 200
            assert http.get("/api/collections/notes/records/nope").status_code == 404
            assert http.get("/no/such/page/abc123").status_code == 404
            # the public port does not serve the metrics
            assert http.get("/metrics").status_code == 404
        finally:
            http.close()
        types, after = scrape(url)
        assert types["core_http_requests_total"] == "counter"
        assert types["core_http_request_duration_seconds"] == "histogram"
        assert types["core_sqlite_write_group_size"] == "histogram"
        views = value(after, "core_http_requests_total", route=RECORD_ROUTE, method="GET", status="2xx")
        assert views == 3
        assert value(after, "core_http_requests_total", route=RECORD_ROUTE, method="GET", status="4xx") == 1
        creates = value(
            after, "core_http_requests_total", route="/api/collections/{collection}/records", method="POST"
        )
        assert creates == 3
        assert (
            value(after, "core_http_requests_total", route="/api/collections", method="POST", status="2xx")
            == 1
        )
        assert value(after, "core_http_requests_total", route="unmatched", method="GET", status="4xx") >= 2
        latency = value(after, "core_http_request_duration_seconds_count", route=RECORD_ROUTE, method="GET")
        assert latency == 4
        # no label carries an id, a collection name or a raw URL
        labels = {v for (_, pairs) in after for k, v in pairs if k == "route"}
        assert not any(record_id in label for label in labels for record_id in ids)
        assert not any("notes" in label or "abc123" in label for label in labels)
        # at least the collection and the three creates were committed through the writer
        writes = value(after, "core_sqlite_write_group_size_sum") - value(
            before, "core_sqlite_write_group_size_sum"
        )
        assert writes >= 4
        assert not {n for n in names(after) if n.startswith("core_ha_")}  # no --ha, no HA series
        assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=5).status_code == 404
    finally:
        server.stop()


def test_workers_are_added_up_by_the_leader(tmp_path: Path) -> None:
    """With --workers 2 every process counts its own requests; one scrape sees them all."""
    port = free_port()
    server = start_core(
        tmp_path / "data", extra_args=["--workers", "2", "--metrics-http", f"127.0.0.1:{port}"]
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 30
        while value(scrape(url)[1], "core_metrics_workers_reporting") < 2:  # the follower starts later
            assert time.monotonic() < deadline, "the follower never answered the leader's scrape"
            time.sleep(0.2)
        health = {"route": "/api/health", "method": "GET"}
        before = value(scrape(url)[1], "core_http_requests_total", **health)
        total = 40
        for _ in range(total):
            # a new connection each time: the kernel spreads them over both processes
            assert httpx.get(f"{server.url}/api/health", timeout=10).status_code == 200
        _, samples = scrape(url)
        assert value(samples, "core_metrics_workers_reporting") == 2
        assert value(samples, "core_http_requests_total", **health) == before + total
        # scraped twice, the sum does not double (each process reports its own counters once)
        assert value(scrape(url)[1], "core_http_requests_total", **health) == before + total
    finally:
        server.stop()


def test_a_bad_or_taken_address_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for address, message in (
            ("127.0.0.1:abc", "--metrics-http: invalid port 'abc'"),
            ("127.0.0.1:0", "--metrics-http: a port is needed"),
            (f"127.0.0.1:{port}", f"--metrics-http: cannot listen on 127.0.0.1:{port}"),
        ):
            done = subprocess.run(
                [sys.executable, "-m", "core", "serve", "--no-nats", "--dir", str(tmp_path / "d")]
                + ["--http", f"127.0.0.1:{free_port()}", "--metrics-http", address],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=REPO_ROOT,
            )
            assert done.returncode != 0 and message in done.stderr, done.stderr
            assert "Traceback" not in done.stderr

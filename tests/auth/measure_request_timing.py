"""Median answer time of an email-taking auth request, known vs unknown address (not a test).

    .venv/bin/python -m tests.auth.measure_request_timing core|pocketbase [N] [endpoint]

endpoint: request-otp (default), request-password-reset, request-verification. Starts a fresh
server and a loopback SMTP server, creates N users, then alternates N requests for a known and
an unknown address. Used for issue 12 item 6; the suite checks the mechanism instead
(tests/auth/test_otp.py::test_the_answer_does_not_wait_for_storing_the_code).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

from tests.auth.conftest import Mailbox, smtp_settings
from tests.servers import free_port, start_target, superuser_client


def main(target: str, n: int, endpoint: str) -> None:
    box = Mailbox()
    box.port = free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=box.port)
    smtp.start()
    server = start_target(target, Path(tempfile.mkdtemp()))
    try:
        admin = superuser_client(server)
        admin.patch("/api/settings", json=smtp_settings(box.port)).raise_for_status()
        admin.patch("/api/collections/users", json={"otp": {"enabled": True}}).raise_for_status()
        for i in range(n):
            user = {"email": f"u{i}@example.com", "password": "12345678", "passwordConfirm": "12345678"}
            admin.post("/api/collections/users/records", json=user).raise_for_status()
        http = httpx.Client(base_url=server.url)
        url = f"/api/collections/users/{endpoint}"
        for i in range(5):  # warm-up
            http.post(url, json={"email": f"warm{i}@example.com"})
        known: list[float] = []
        unknown: list[float] = []
        for i in range(n):
            for email, out in ((f"u{i}@example.com", known), (f"nobody{i}@example.com", unknown)):
                start = time.perf_counter()
                resp = http.post(url, json={"email": email})
                out.append((time.perf_counter() - start) * 1000)
                assert resp.status_code in (200, 204), resp.text

        def summary(xs: list[float]) -> str:
            return f"median {statistics.median(xs):.1f} ms, p90 {sorted(xs)[int(len(xs) * 0.9)]:.1f} ms"

        print(f"{target} {endpoint}: known {summary(known)} | unknown {summary(unknown)}")
    finally:
        server.stop()
        smtp.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        args[0] if args else "core",
        int(args[1]) if len(args) > 1 else 40,
        args[2] if len(args) > 2 else "request-otp",
    )

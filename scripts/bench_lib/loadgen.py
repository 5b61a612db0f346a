"""Load generators: wrk driven by generated Lua scripts, or a slower asyncio+httpx fallback."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import httpx

from bench_lib.workloads import Fixture, Workload

# Password hashing makes auth slow by design; wrk's default 2 s timeout would count queued auth
# requests as errors rather than as latency.
REQUEST_TIMEOUT_S = 10


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # unexpected answers (2xx/3xx where a 4xx is the point, or the other way), timeouts, socket errors

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal for our ASCII data


def wrk_script(w: Workload, fx: Fixture) -> str:
    """A Lua script for wrk: random ids and bodies per request, JSON summary on stdout at the end."""
    ids = ",".join(_lua_string(i) for i in fx.ids.get(w.collection, []))
    bodies = ",".join(_lua_string(b) for b in (fx.bodies[w.body] if w.body else []))
    headers = ['["Content-Type"] = "application/json"']
    if w.user_token:
        headers.append(f'["Authorization"] = {_lua_string(fx.user_token)}')
    body = "bodies[math.random(#bodies)]" if w.body else "nil"
    return f"""
local ids = {{{ids}}}
local bodies = {{{bodies}}}
local headers = {{{", ".join(headers)}}}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
end

function request()
  local path = string.gsub({_lua_string(w.path)}, "{{id}}", function() return ids[math.random(#ids)] end)
  return wrk.format({_lua_string(w.method)}, path, headers, {body})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nBENCH_JSON {{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + {"summary.requests - e.status" if w.expect_error else "e.status"}))
end
"""


def run_wrk(w: Workload, fx: Fixture, duration: float, threads: int, connections: int) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix=f"bench_{w.name}_") as script:
        script.write(wrk_script(w, fx))
        script.flush()
        proc = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                f"--timeout={REQUEST_TIMEOUT_S}s",
                "-s",
                script.name,
                fx.url,
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
        )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["errors"],
    )


def _request_args(w: Workload, fx: Fixture, rng: random.Random) -> tuple[str, str | None]:
    path = w.path.replace("{id}", rng.choice(fx.ids[w.collection])) if "{id}" in w.path else w.path
    return path, rng.choice(fx.bodies[w.body]) if w.body else None


async def _python_load(w: Workload, fx: Fixture, duration: float, connections: int) -> LoadResult:
    headers = {"Content-Type": "application/json"}
    if w.user_token:
        headers["Authorization"] = fx.user_token
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(
        base_url=fx.url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT_S
    ) as http:
        started = time.monotonic()
        deadline = started + duration

        async def worker(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.monotonic() < deadline:
                path, body = _request_args(w, fx, rng)
                t0 = time.perf_counter()
                try:
                    r = await http.request(w.method, path, content=body)
                    ok = (r.status_code >= 400) if w.expect_error else (r.status_code < 400)
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        await asyncio.gather(*(worker(i) for i in range(connections)))
        elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return LoadResult(len(latencies), elapsed, pct(0.50), pct(0.99), errors)


def run_python(w: Workload, fx: Fixture, duration: float, connections: int) -> LoadResult:
    return asyncio.run(_python_load(w, fx, duration, connections))

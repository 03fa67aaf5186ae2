"""Benchmark: client CPU per request for the wire client beside wrk and Locust FastHttpUser.

Why this script exists: the wire client's sustained load must cost within 2.5x of wrk's
client CPU-seconds per 10k requests, and drive at least 4x the requests per client-CPU-second
of Locust's FastHttpUser. One run starts one embedded Redis and one reference
server (``atomic``, one worker, ``--log-level warning``) on 127.0.0.1 and points every tool at
the same ``GET /healthz``, one after the other, closed loop with keep-alive at the same
concurrency, for the same measured duration:

- **wire**: :class:`stress.wire.WireClient` (HTTP/1.1, uvloop when installed), ``--concurrency``
  tasks each looping ``request()``; run in a child process that measures its own
  ``getrusage(RUSAGE_SELF)`` over the measured window only (after imports and a warm-up);
- **wrk**: ``wrk -t1 -c<concurrency>`` (one thread, like the single-threaded Python clients);
  its CPU is the child's rusage from ``os.wait4`` (wrk starts in milliseconds);
- **locust**: FastHttpUser with ``wait_time = constant(0)``, ``--concurrency`` users, run
  through Locust's library API in a child process that measures its own rusage over the
  measured window only (Locust's start-up, a second of CPU, is not charged to it).

The client tools share two cores with the server under test (and with other people's work), so
the request *rate* mostly says how fast the server answered; the CPU per request is the figure
that compares clients. Compare figures within one run only. Other people's load moves the CPU
per request of every tool by tens of percent from minute to minute, so ``--rounds`` repeats the
three tools back to back and the ratios are taken per round (each figure beside its peers from
the same minute); the goals are judged on the median round and the worst round is shown too.

Usage::

    .venv/bin/python benchmarks/throughput.py [--seconds 10] [--concurrency 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.launcher import RedisProcess, ServerProcess

__all__ = ["main"]

WARMUP_SECONDS = 1.0


@dataclass(frozen=True)
class Measured:
    """One tool's run: requests completed, errors, wall and client CPU seconds."""

    tool: str
    round: int
    requests: int
    errors: int
    wall: float
    cpu: float

    @property
    def cpu_per_10k(self) -> float:
        return self.cpu / self.requests * 10_000 if self.requests else float("inf")

    @property
    def per_cpu_second(self) -> float:
        return self.requests / self.cpu if self.cpu else 0.0


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- workers (run in child processes) ------------------------------------------------------


async def _wire_worker(url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    import anyio

    from stress.wire import WireClient, WireRequest

    counts = {"ok": 0, "errors": 0}
    request = WireRequest("GET", url)
    async with WireClient(http2="never") as client:

        async def loop() -> None:
            while True:
                outcome = await client.request(request, timeout=10)
                ok = outcome.response is not None and outcome.response.status == 200
                counts["ok" if ok else "errors"] += 1

        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(loop)
            await anyio.sleep(WARMUP_SECONDS)
            start_ok, start_err = counts["ok"], counts["errors"]
            cpu0, wall0 = _cpu_self(), time.monotonic()
            await anyio.sleep(seconds)
            cpu1, wall1 = _cpu_self(), time.monotonic()
            done_ok, done_err = counts["ok"], counts["errors"]
            tg.cancel_scope.cancel()
    return {
        "requests": done_ok - start_ok,
        "errors": done_err - start_err,
        "wall": wall1 - wall0,
        "cpu": cpu1 - cpu0,
    }


def _locust_worker(url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    import gevent  # type: ignore[import-untyped]
    from locust import FastHttpUser, constant, task
    from locust.env import Environment

    base, _, path = url.partition("://")[2].partition("/")

    class Healthz(FastHttpUser):
        host = url.split("://")[0] + "://" + base
        wait_time = constant(0)

        @task
        def healthz(self) -> None:
            self.client.get("/" + path)

    env = Environment(user_classes=[Healthz])
    runner = env.create_local_runner()
    runner.start(concurrency, spawn_rate=concurrency)
    gevent.sleep(WARMUP_SECONDS)
    total = env.stats.total
    start_n, start_f = total.num_requests, total.num_failures
    cpu0, wall0 = _cpu_self(), time.monotonic()
    gevent.sleep(seconds)
    cpu1, wall1 = _cpu_self(), time.monotonic()
    done_n, done_f = total.num_requests, total.num_failures
    runner.quit()
    return {
        "requests": (done_n - start_n) - (done_f - start_f),
        "errors": done_f - start_f,
        "wall": wall1 - wall0,
        "cpu": cpu1 - cpu0,
    }


def _worker(kind: str, url: str, seconds: float, concurrency: int) -> None:
    if kind == "wire":
        from stress.wire import run

        result = run(_wire_worker, url, seconds, concurrency)
    else:
        result = _locust_worker(url, seconds, concurrency)
    sys.stdout.write(json.dumps(result) + "\n")


# -- the driver ----------------------------------------------------------------------------


def _run_worker(kind: str, url: str, seconds: float, concurrency: int, n: int) -> Measured:
    argv = [sys.executable, __file__, "--worker", kind, "--url", url]
    argv += ["--seconds", str(seconds), "--concurrency", str(concurrency)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True)
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    return Measured(kind, n, doc["requests"], doc["errors"], doc["wall"], doc["cpu"])


def _run_wrk(url: str, seconds: float, concurrency: int, n: int) -> Measured:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    argv = [wrk, "-t1", f"-c{concurrency}", f"-d{int(seconds)}s", url]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"wrk failed ({proc.returncode}):\n{output}")
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", output)
    if match is None:
        raise SystemExit(f"cannot parse wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|timeout) (\d+)", output))
    cpu = usage.ru_utime + usage.ru_stime
    return Measured("wrk", n, int(match.group(1)), errors, wall, cpu)


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.node()}: nproc {os.cpu_count()}, load average {load}, "
        f"Python {platform.python_version()}, {platform.machine()}"
    )


def _ratios(rows: list[Measured]) -> list[tuple[int, float, float]]:
    """Per round: (round, wire CPU per 10k / wrk's, wire req per CPU-s / Locust's)."""
    out = []
    for n in sorted({row.round for row in rows}):
        by = {row.tool: row for row in rows if row.round == n}
        wire, wrk, locust = by["wire"], by["wrk"], by["locust"]
        out.append(
            (n, wire.cpu_per_10k / wrk.cpu_per_10k, wire.per_cpu_second / locust.per_cpu_second)
        )
    return out


def _table(rows: list[Measured], args: argparse.Namespace, before: str, after: str) -> str:
    ratios = _ratios(rows)
    cpu_ratio = statistics.median(r[1] for r in ratios)
    rate_ratio = statistics.median(r[2] for r in ratios)
    lines = [
        f"Sustained GET /healthz, reference server (atomic, 1 worker) on 127.0.0.1; closed loop, "
        f"keep-alive, concurrency {args.concurrency}, {args.seconds:g} s measured per tool "
        f"(after a {WARMUP_SECONDS:g} s warm-up for the Python clients), {args.rounds} round(s) "
        f"of wire, wrk, locust back to back.",
        f"Machine before: {before}",
        f"Machine after:  {after}",
        "",
        "| round | client | requests | errors | req/s | client CPU-s | CPU-s per 10k req "
        "| req per CPU-s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.round} | {row.tool} | {row.requests:,} | {row.errors} "
            f"| {row.requests / row.wall:,.0f} | {row.cpu:.2f} | {row.cpu_per_10k:.3f} "
            f"| {row.per_cpu_second:,.0f} |"
        )
    lines += [
        "",
        "| round | wire CPU per 10k / wrk's | wire req per CPU-s / Locust's |",
        "|---:|---:|---:|",
    ]
    lines += [f"| {n} | {cpu:.2f}x | {rate:.2f}x |" for n, cpu, rate in ratios]
    worst_cpu = max(r[1] for r in ratios)
    worst_rate = min(r[2] for r in ratios)
    lines += [
        "",
        f"- wire CPU per 10k requests = {cpu_ratio:.2f}x wrk's, median of rounds (worst "
        f"{worst_cpu:.2f}x) (goal <= 2.5x: {'met' if cpu_ratio <= 2.5 else 'NOT met'})",
        f"- wire requests per CPU-second = {rate_ratio:.2f}x Locust FastHttpUser's, median of "
        f"rounds (worst {worst_rate:.2f}x) (goal >= 4x: {'met' if rate_ratio >= 4 else 'NOT met'})",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse arguments; as driver start the server, measure each tool, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--worker", choices=["wire", "locust"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.url, args.seconds, args.concurrency)
        return
    before = _machine()
    with (
        RedisProcess() as redis,
        ServerProcess(
            "atomic", redis_url=redis.url, extra_args=["--log-level", "warning"]
        ) as server,
    ):
        url = f"{server.url}/healthz"
        rows: list[Measured] = []
        for n in range(1, args.rounds + 1):
            rows += [
                _run_worker("wire", url, args.seconds, args.concurrency, n),
                _run_wrk(url, args.seconds, args.concurrency, n),
                _run_worker("locust", url, args.seconds, args.concurrency, n),
            ]
    sys.stdout.write(_table(rows, args, before, _machine()))
    if args.json is not None:
        doc = {
            "machine_before": before,
            "rows": [row.__dict__ | {"cpu_per_10k": row.cpu_per_10k} for row in rows],
        }
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()

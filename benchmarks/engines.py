"""Benchmark: how tightly each sync engine lands a burst, beside naive httpx ``gather``.

Why this script exists: issue 4 asks that single-packet's median arrival spread at N=32 be
within 150 us and at least 20x tighter than naive httpx ``gather``, and last-byte within
1.2 ms. One run starts the built-in timestamping server (stress.wire.timestamp_server) in a
child process and, against that same server, measures every wire engine and an httpx
``AsyncClient`` (warmed with N concurrent requests, then ``asyncio.gather`` of N posts). The
spread of a burst is its last minus first server-side ``X-Arrival-Ns``; beside it, the client's
own release spread (last minus first ``send_ns``: how long the engine's release loop took),
which is what a change to the client can move. Client and server share this machine (and it is
shared with other work), so compare figures within one run only.

Usage::

    .venv/bin/python benchmarks/engines.py [--n 32] [--bursts 15] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.calibrate import EngineSpread, measure_engine
from stress.wire import HTTP2Mode, WireClient, WireRequest, run
from stress.wire.timestamp_server import start_in_process

__all__ = ["main"]

BODY = b"grant_type=refresh_token&refresh_token=benchmark"
ENGINES = ("none", "barrier", "last-byte", "single-packet")


async def _httpx_gather(url: str, n: int, bursts: int) -> list[int]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits) as client:

        async def burst() -> int:
            responses = await asyncio.gather(*(client.post(url, content=BODY) for _ in range(n)))
            arrivals = [int(r.headers["x-arrival-ns"]) for r in responses]
            return max(arrivals) - min(arrivals)

        await burst()  # warm n keep-alive connections
        return [await burst() for _ in range(bursts)]


Row = tuple[str, float, float, float | None]
"""name, median and p95 arrival spread, median client-side release spread (us; None: httpx)."""


async def _measure(n: int, bursts: int) -> list[Row]:
    rows: list[Row] = []
    with start_in_process() as base:
        url = f"{base}/token"
        request = WireRequest("POST", url, (("content-type", "x"),), BODY)
        for engine in ENGINES:
            http2: HTTP2Mode = "auto" if engine == "single-packet" else "never"
            async with WireClient(http2=http2) as client:
                spread: EngineSpread = await measure_engine(
                    client, request, engine=engine, n=n, bursts=bursts, op_timeout=10
                )
            assert spread.arrival_median_us is not None
            assert spread.arrival_p95_us is not None
            rows.append(
                (
                    f"wire {spread.used}",
                    spread.arrival_median_us,
                    spread.arrival_p95_us,
                    spread.release_median_us,
                )
            )
        spreads = sorted(await _httpx_gather(url, n, bursts))
        p95 = spreads[min(len(spreads) - 1, round(0.95 * (len(spreads) - 1)))]
        rows.append(("httpx gather (naive)", statistics.median(spreads) / 1000, p95 / 1000, None))
    return rows


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.node()}: nproc {os.cpu_count()}, load average {load}"


def _table(rows: list[Row], n: int, bursts: int, before: str, after: str) -> str:
    baseline = rows[-1][1]
    lines = [
        f"Arrival spread at N={n}, {bursts} bursts each, built-in timestamping server",
        f"Machine before: {before}",
        f"Machine after:  {after}",
        "",
        "| client / engine | median spread (us) | p95 spread (us) | vs httpx gather (median) "
        "| client release spread, median (us) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, median, p95, release in rows:
        ratio = "inf" if median == 0 else f"{baseline / median:.1f}x tighter"
        if name.startswith("httpx"):
            ratio = "1.0x"
        shown = "-" if release is None else f"{release:.1f}"
        lines.append(f"| {name} | {median:.1f} | {p95:.1f} | {ratio} | {shown} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse arguments, measure, print the Markdown table (and write JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--bursts", type=int, default=15)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    before = _machine()
    rows = run(_measure, args.n, args.bursts)
    sys.stdout.write(_table(rows, args.n, args.bursts, before, _machine()))
    if args.json is not None:
        doc = [
            {"name": name, "median_us": med, "p95_us": p95, "release_median_us": release}
            for name, med, p95, release in rows
        ]
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()

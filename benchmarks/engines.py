"""Benchmark: how tightly each sync engine lands a burst, beside naive httpx ``gather``.

Why this script exists: single-packet's median arrival spread at N=32 must be within 150 us and
at least 20x tighter than naive httpx ``gather``, and last-byte's within 1.2 ms. One run starts
the built-in timestamping server (stress.wire.timestamp_server) in a child process and, against
that same server, measures every wire engine and an httpx ``AsyncClient`` (warmed with N
concurrent requests, then ``asyncio.gather`` of N posts). The spread of a burst is its last
minus first server-side ``X-Arrival-Ns``, which that server takes from the kernel's receive
timestamps (the wire's figure, not its loop's); beside it the loopback floor measured just
before each burst (the release's writes on idle loopback connections, kernel-stamped: what this
machine cannot do faster) and the client's own release spread (last minus first ``send_ns``, the
kernel's transmit stamps). ``--send-loop`` adds last-byte with its release forced back to a send
loop (before ``stress.wire._release`` batched it). Client and server share this machine (and it
is shared with other work), so compare figures within one run only.

Usage::

    .venv/bin/python benchmarks/engines.py [--n 32] [--bursts 15] [--send-loop] [--json PATH]
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
from stress.wire import HTTP2Mode, WireClient, WireRequest, _aio, run
from stress.wire.loopback_floor import LoopbackFloor
from stress.wire.timestamp_server import start_in_process

__all__ = ["main"]

BODY = b"grant_type=refresh_token&refresh_token=benchmark"
ENGINES = ("none", "barrier", "last-byte", "single-packet")
SEND_LOOP = "last-byte/send-loop"


async def _httpx_gather(url: str, n: int, bursts: int) -> list[int]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits) as client:

        async def burst() -> int:
            responses = await asyncio.gather(*(client.post(url, content=BODY) for _ in range(n)))
            arrivals = [int(r.headers["x-arrival-ns"]) for r in responses]
            return max(arrivals) - min(arrivals)

        await burst()  # warm n keep-alive connections
        return [await burst() for _ in range(bursts)]


Row = tuple[str, float, float, float | None, float | None, str | None]
"""name, median and p95 arrival spread, median loopback floor, median client-side release
spread (us; None for httpx), the arrival clock."""


async def _wire_row(
    url: str, engine: str, n: int, bursts: int, floor: LoopbackFloor
) -> EngineSpread:
    request = WireRequest("POST", url, (("content-type", "x"),), BODY)
    wire_engine = engine.split("/")[0]
    http2: HTTP2Mode = "auto" if wire_engine == "single-packet" else "never"
    available = _aio.available
    if engine == SEND_LOOP:
        _aio.available = lambda: False
    try:
        async with WireClient(http2=http2) as client:
            return await measure_engine(
                client, request, engine=wire_engine, n=n, bursts=bursts, op_timeout=10, floor=floor
            )
    finally:
        _aio.available = available


async def _measure(n: int, bursts: int, engines: list[str]) -> list[Row]:
    rows: list[Row] = []
    with start_in_process() as base, LoopbackFloor(n) as floor:
        url = f"{base}/token"
        for engine in engines:
            spread = await _wire_row(url, engine, n, bursts, floor)
            assert spread.arrival_median_us is not None
            assert spread.arrival_p95_us is not None
            name = f"wire {spread.used}" + (" (send loop)" if engine == SEND_LOOP else "")
            rows.append(
                (
                    name,
                    spread.arrival_median_us,
                    spread.arrival_p95_us,
                    spread.floor_us,
                    spread.release_median_us,
                    spread.arrival_clock,
                )
            )
        spreads = sorted(await _httpx_gather(url, n, bursts))
        p95 = spreads[min(len(spreads) - 1, round(0.95 * (len(spreads) - 1)))]
        median = statistics.median(spreads) / 1000
        rows.append(("httpx gather (naive)", median, p95 / 1000, None, None, "kernel"))
    return rows


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.node()}: nproc {os.cpu_count()}, load average {load}"


def _table(rows: list[Row], n: int, bursts: int, before: str, after: str) -> str:
    baseline = rows[-1][1]
    clocks = ", ".join(sorted({row[5] or "-" for row in rows}))
    lines = [
        f"Arrival spread at N={n}, {bursts} bursts each, built-in timestamping server "
        f"(arrivals stamped by: {clocks})",
        f"Machine before: {before}",
        f"Machine after:  {after}",
        "",
        "| client / engine | median spread (us) | p95 spread (us) | loopback floor, median (us) "
        "| vs httpx gather (median) | client release spread, median (us) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, median, p95, floor, release, _ in rows:
        ratio = "inf" if median == 0 else f"{baseline / median:.1f}x tighter"
        if name.startswith("httpx"):
            ratio = "1.0x"
        shown = "-" if release is None else f"{release:.1f}"
        floor_shown = "-" if floor is None else f"{floor:.1f}"
        lines.append(f"| {name} | {median:.1f} | {p95:.1f} | {floor_shown} | {ratio} | {shown} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse arguments, measure, print the Markdown table (and write JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--bursts", type=int, default=15)
    parser.add_argument(
        "--send-loop", action="store_true", help="also last-byte with its old send-loop release"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    engines = list(ENGINES) + ([SEND_LOOP] if args.send_loop else [])
    before = _machine()
    rows = run(_measure, args.n, args.bursts, engines)
    sys.stdout.write(_table(rows, args.n, args.bursts, before, _machine()))
    if args.json is not None:
        doc = [
            {
                "name": name,
                "median_us": med,
                "p95_us": p95,
                "floor_median_us": floor,
                "release_median_us": release,
                "arrival_clock": clock,
            }
            for name, med, p95, floor, release, clock in rows
        ]
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()

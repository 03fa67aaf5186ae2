"""Benchmark: what a change to the reference server costs, as this checkout's refresh throughput
divided by another checkout's, measured in alternating rounds.

Why this script exists: a fix to the rotation core may cost throughput, and the goal is that the
fault fixes cost no more than 5% of the throughput before them. Two runs of
``reference_server.py`` minutes apart cannot show that on a shared machine (the rate of one
cell moves by a third from round to round with the machine's load), so this script keeps both
versions running side by side and pairs them: each round measures the baseline's refresh and
this checkout's, back to back, in an order that alternates, and the figure is the per-round
ratio. The rounds' mean comes with its 95% interval (normal approximation), so "within 5%"
is said only when the interval's lower end is at 0.95 or above.

Each side is what the checkout itself starts: its own embedded Redis (with the persistence
settings that checkout gives it) and two single-worker replicas of the strategy, started by its
own ``stress.launcher`` in a child process with that checkout first on ``PYTHONPATH`` (any
checkout of this project whose launcher has ``RedisProcess`` and ``ServerProcess``), for
example the code before a change::

    git worktree add ../before <commit>
    .venv/bin/python benchmarks/reference_server_change.py --baseline ../before [--rounds 80]
        [--seconds 2] [--concurrency 32] [--strategy atomic]

The client is ``reference_server.py``'s (raw-socket keep-alive HTTP/1.1, one family per
connection, connections spread over both replicas), in this process, on both sides alike.
Everything shares this machine; the ratio is the figure, not the rates.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.reference_server import Endpoint, measure  # noqa: E402 (after the path is set)

__all__ = ["main"]

GOAL = 0.95
REPLICAS = 2

# Run by the baseline's child process, with the baseline checkout first on the path: start its
# Redis and replicas, print their URLs on one line, and stop them when stdin closes.
_SERVE = """
import contextlib, sys
from stress.launcher import RedisProcess, ServerProcess
with contextlib.ExitStack() as stack:
    redis = stack.enter_context(RedisProcess())
    extra = ["--log-level", "warning"]
    servers = [
        stack.enter_context(ServerProcess(sys.argv[1], redis_url=redis.url, grace=2.0,
                                          extra_args=extra))
        for _ in range(int(sys.argv[2]))
    ]
    print(" ".join(server.url for server in servers), flush=True)
    sys.stdin.read()
"""


def _endpoints(urls: list[str]) -> list[Endpoint]:
    parts = [urlsplit(url) for url in urls]
    return [Endpoint(part.hostname or "127.0.0.1", part.port or 80) for part in parts]


@contextlib.contextmanager
def servers_of(checkout: Path, strategy: str) -> Iterator[list[Endpoint]]:
    """``checkout``'s Redis and replicas, in a child process that owns them."""
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve())}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, strategy, str(REPLICAS)],
        cwd=checkout, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline().split()
        if len(line) != REPLICAS:
            raise SystemExit(f"the servers of {checkout} did not start (exit {proc.poll()})")
        yield _endpoints(line)
    finally:
        proc.stdin.close()  # the child's context managers stop its servers and Redis
        proc.wait(timeout=60)


def _interval(ratios: list[float]) -> tuple[float, float, float]:
    """The mean of ``ratios`` and its 95% interval (normal approximation)."""
    mean = statistics.fmean(ratios)
    half = 1.96 * statistics.stdev(ratios) / math.sqrt(len(ratios)) if len(ratios) > 1 else 0.0
    return mean, mean - half, mean + half


def main(argv: list[str] | None = None) -> int:
    """Measure, then print the rounds and the verdict as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, type=Path, help="the other checkout")
    parser.add_argument("--strategy", default="atomic")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=2.0, help="per side and round")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be 2 or more (the interval needs a spread)")
    load_before = os.getloadavg()
    rates: dict[str, list[float]] = {"baseline": [], "this": []}
    errors = {"baseline": 0, "this": 0}
    options = {"use_uvloop": True}
    with (
        servers_of(args.baseline, args.strategy) as before,
        servers_of(ROOT, args.strategy) as after,
    ):
        sides = {"baseline": before, "this": after}
        for index in range(args.rounds):
            order = ["baseline", "this"] if index % 2 == 0 else ["this", "baseline"]
            for side in order:
                result = anyio.run(
                    measure, sides[side], "refresh", args.concurrency, args.seconds,
                    backend_options=options,
                )  # fmt: skip
                rates[side].append(result.rate)
                errors[side] += result.errors
    load_after = os.getloadavg()
    ratios = [new / old for new, old in zip(rates["this"], rates["baseline"], strict=True)]
    mean, low, high = _interval(ratios)
    if low >= GOAL:
        verdict = f"within {1 - GOAL:.0%} (the interval's lower end is {low:.3f})"
    elif high < GOAL:
        verdict = f"costs more than {1 - GOAL:.0%} (the interval's upper end is {high:.3f})"
    else:
        verdict = f"not shown within {1 - GOAL:.0%} (the interval reaches {low:.3f})"
    print(f"{args.strategy} at concurrency {args.concurrency}, {args.rounds} rounds of "
          f"{args.seconds:g} s per side; baseline {args.baseline}; {os.cpu_count()} cores, load "
          f"average {load_before[0]:.2f} before, {load_after[0]:.2f} after")  # fmt: skip
    print()
    print("| side | refresh/s (median of rounds) | errors |")
    print("|---|---:|---:|")
    for side, label in (("baseline", "baseline"), ("this", "this checkout")):
        print(f"| {label} | {statistics.median(rates[side]):,.0f} | {errors[side]} |")
    print()
    print("| this ÷ baseline | value |")
    print("|---|---|")
    print(f"| mean of rounds, 95% interval | {mean:.3f} ({low:.3f}-{high:.3f}) |")
    print(f"| median of rounds | {statistics.median(ratios):.3f} |")
    print(f"| per round | {' '.join(f'{r:.2f}' for r in ratios)} |")
    print()
    print(f"- cost of the change: {verdict}; goal: at least {GOAL} of the baseline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: how often one burst of N refreshes catches the reference server's ``naive`` bug.

Why this script exists: one burst of N=8 against the ``naive`` strategy (a read-then-write
rotation that forks under concurrency) must produce a finding with probability at least 0.9
for last-byte or single-packet. Detection power is what the sync engines are for, so
it is measured with the real tester end to end: one embedded Redis and one ``naive`` reference
server (grace 5 s, 127.0.0.1; once with one worker process, once with two, as
deployed servers usually run several), and per engine one generated scenario run through
``stress.pipeline.run_scenario`` (discovery, driver, wire client, checkers): ``--bursts``
sessions, one at a time (``concurrency = 1``, so bursts never overlap), each logging in and
firing one refresh burst of ``--n`` copies of its token with that engine, then the usual final
probes. A burst *detects* when at least one finding's witness includes an op of its session.
Beside each probability the run's median server-side arrival spread (``X-Arrival-Ns``) of the
same bursts is shown, since tightness is what buys detection. The goal holds for last-byte
with two server workers too: 0.9 or more.

The machine is shared, so a figure drifts with other people's load within minutes: ``--rounds``
repeats the whole set (every worker count, every engine) that many times, interleaved, and
adds up the bursts, so drift lands on every row alike; each probability comes with its 95%
Wilson interval. ``--send-loop`` adds a row per worker count for last-byte with its release
forced back to a send loop (what it was before the batched release of ``stress.wire._release``),
measured in the same rounds.

Usage::

    .venv/bin/python benchmarks/detection.py [--n 8] [--bursts 40] [--rounds 5] \
        [--engines none,...] [--workers 1,2] [--send-loop] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.launcher import RedisProcess, ServerProcess
from stress.pipeline import RunOptions, run_scenario
from stress.scenario import parse_scenario
from stress.wire import _aio, run

__all__ = ["main"]

ENGINES = ("none", "barrier", "last-byte", "single-packet")
TIGHT = ("last-byte", "single-packet")
SEND_LOOP = "last-byte/send-loop"
GRACE_SECONDS = 5.0
Z95 = 1.96


@dataclass
class Detection:
    """One engine's tally over every round: bursts fired, bursts with a finding, what was found."""

    engine: str
    workers: int
    used: set[str] = field(default_factory=set)
    bursts: int = 0
    detected: int = 0
    checkers: Counter[str] = field(default_factory=Counter)
    spreads_ns: list[int] = field(default_factory=list)

    @property
    def probability(self) -> float:
        return self.detected / self.bursts if self.bursts else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson score interval of the probability."""
        n, p = self.bursts, self.probability
        if not n:
            return 0.0, 1.0
        centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
        return max(0.0, centre - half), min(1.0, centre + half)

    @property
    def median_arrival_us(self) -> float | None:
        return statistics.median(self.spreads_ns) / 1000 if self.spreads_ns else None


@contextlib.contextmanager
def _send_loop(on: bool) -> Iterator[None]:
    """Force the last-byte release back to a send loop (no batched io_submit) while on."""
    if not on:
        yield
        return
    available = _aio.available
    _aio.available = lambda: False
    try:
        yield
    finally:
        _aio.available = available


def _scenario(engine: str, n: int, bursts: int) -> dict[str, Any]:
    return {
        "name": f"detection-{engine}",
        "target": {"kind": "oauth2", "client_id": "demo-client"},
        "auth": {"password": "password", "username": "user{n}"},
        "policy": {"kind": "idempotent", "grace_seconds": GRACE_SECONDS},
        "run": {
            "sessions": bursts,
            "concurrency": 1,
            "op_timeout_seconds": 5,
            "max_seconds": 120,
        },
        "steps": [{"op": "login"}, {"op": "refresh", "parallel": n, "sync": engine}],
    }


async def _measure(
    url: str, tally: Detection, engine: str, n: int, bursts: int, folder: Path, round_: int
) -> None:
    scenario = parse_scenario(_scenario(engine, n, bursts), f"generated ({engine})")
    name = tally.engine.replace("/", "-")
    history = folder / f"{tally.workers}-{name}-{round_}.jsonl"
    result = await run_scenario(scenario, RunOptions(targets=(url,), history_path=history))
    report = result.report
    if len(report.bursts) != bursts:
        raise SystemExit(
            f"{engine}: {len(report.bursts)} of {bursts} bursts ran (verdict {report.verdict}, "
            f"{report.inconclusive_reason or 'logins failed?'}); history {result.history_path}"
        )
    session_of = {op.index: op.session for op in report.operations}
    sessions: set[int] = set()
    for finding in report.findings:
        tally.checkers[finding.checker] += 1
        sessions.update(session_of[i] for i in finding.witness if i in session_of)
    tally.spreads_ns += [b.arrival_spread_ns for b in report.bursts if b.arrival_spread_ns]
    tally.used.update(b.engine for b in report.bursts)
    tally.bursts += len(report.bursts)
    tally.detected += len(sessions)


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.node()}: nproc {os.cpu_count()}, load average {load}"


def _table(rows: list[Detection], args: argparse.Namespace, before: str, after: str) -> str:
    lines = [
        f"Detection power: one refresh burst of N={args.n} against the reference server's "
        f"`naive` strategy (grace {GRACE_SECONDS:g} s, 127.0.0.1), {args.bursts} bursts per "
        f"engine per round, {args.rounds} round(s) interleaved, one burst at a time; real "
        "runner and checkers (idempotent policy).",
        f"Machine before: {before}",
        f"Machine after:  {after}",
        "",
        "| server workers | engine | bursts | bursts with a finding | P(detect) | 95% interval "
        "| median arrival spread (us) | findings by checker |",
        "|---:|---|---:|---:|---:|---|---:|---|",
    ]
    for row in rows:
        spread = "-" if row.median_arrival_us is None else f"{row.median_arrival_us:,.1f}"
        found = ", ".join(f"{k} {v}" for k, v in sorted(row.checkers.items())) or "none"
        used = ",".join(sorted(row.used)) or "-"
        name = row.engine if used == row.engine.split("/")[0] else f"{row.engine} ({used})"
        low, high = row.interval
        lines.append(
            f"| {row.workers} | {name} | {row.bursts} | {row.detected} "
            f"| {row.probability:.2f} | {low:.2f}-{high:.2f} | {spread} | {found} |"
        )
    lines.append("")
    for workers in sorted({r.workers for r in rows}):
        for engine in TIGHT:
            for row in rows:
                if row.workers == workers and row.engine == engine:
                    met = "met" if row.probability >= 0.9 else "NOT met"
                    lines.append(
                        f"- {workers} worker(s), {engine}: {row.probability:.2f} "
                        f"(goal >= 0.9: {met})"
                    )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse arguments, start Redis and a naive server per worker count, tally, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--bursts", type=int, default=40, help="bursts per engine per round")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repetitions")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument(
        "--workers", default="1,2", help="server worker processes to try, comma-separated"
    )
    parser.add_argument(
        "--send-loop", action="store_true", help="also last-byte with its old send-loop release"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    engines = args.engines.split(",") + ([SEND_LOOP] if args.send_loop else [])
    counts = [int(w) for w in args.workers.split(",")]
    rows = {(w, e): Detection(e, w) for w in counts for e in engines}
    before = _machine()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="detection-")))
        redis = stack.enter_context(RedisProcess())
        servers = {
            w: stack.enter_context(
                ServerProcess(
                    "naive",
                    redis_url=redis.url,
                    workers=w,
                    grace=GRACE_SECONDS,
                    extra_args=["--log-level", "warning"],
                )
            )
            for w in counts
        }
        for round_ in range(args.rounds):
            for w in counts:
                for engine in engines:
                    wire_engine = engine.split("/")[0]
                    with _send_loop(engine == SEND_LOOP):
                        measure = (servers[w].url, rows[w, engine], wire_engine, args.n)
                        run(_measure, *measure, args.bursts, folder, round_)
    sys.stdout.write(_table(list(rows.values()), args, before, _machine()))
    if args.json is not None:
        doc = [
            {
                "engine": row.engine,
                "workers": row.workers,
                "used": sorted(row.used),
                "bursts": row.bursts,
                "detected": row.detected,
                "probability": row.probability,
                "interval": row.interval,
                "checkers": dict(row.checkers),
                "median_arrival_us": row.median_arrival_us,
            }
            for row in rows.values()
        ]
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()

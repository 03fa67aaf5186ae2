"""Benchmark: how often one burst of N refreshes catches the reference server's ``naive`` bug.

Why this script exists: issue 4 asks that one burst of N=8 against the ``naive`` strategy (a
read-then-write rotation that forks under concurrency) produce a finding with probability at
least 0.9 for last-byte or single-packet. Detection power is what the sync engines are for, so
it is measured with the real tester end to end: one embedded Redis and one ``naive`` reference
server (grace 5 s, 127.0.0.1; once with one worker process, once with two, as
deployed servers usually run several), and per engine one generated scenario run through
``stress.pipeline.run_scenario`` (discovery, driver, wire client, checkers): ``--bursts``
sessions, one at a time (``concurrency = 1``, so bursts never overlap), each logging in and
firing one refresh burst of ``--n`` copies of its token with that engine, then the usual final
probes. A burst *detects* when at least one finding's witness includes an op of its session.
Beside each probability the run's median server-side arrival spread (``X-Arrival-Ns``) of the
same bursts is shown, since tightness is what buys detection.

Usage::

    .venv/bin/python benchmarks/detection.py [--n 8] [--bursts 40] [--engines none,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.launcher import RedisProcess, ServerProcess
from stress.pipeline import RunOptions, run_scenario
from stress.scenario import parse_scenario
from stress.wire import run

__all__ = ["main"]

ENGINES = ("none", "barrier", "last-byte", "single-packet")
TIGHT = ("last-byte", "single-packet")
GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Detection:
    """One engine's result: bursts fired, bursts with a finding, and what was found."""

    engine: str
    workers: int
    used: str
    bursts: int
    detected: int
    checkers: dict[str, int]
    median_arrival_us: float | None
    verdict: str

    @property
    def probability(self) -> float:
        return self.detected / self.bursts if self.bursts else 0.0


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
    url: str, workers: int, engine: str, n: int, bursts: int, folder: Path
) -> Detection:
    scenario = parse_scenario(_scenario(engine, n, bursts), f"generated ({engine})")
    options = RunOptions(targets=(url,), history_path=folder / f"{workers}-{engine}.jsonl")
    result = await run_scenario(scenario, options)
    report = result.report
    if len(report.bursts) != bursts:
        raise SystemExit(
            f"{engine}: {len(report.bursts)} of {bursts} bursts ran (verdict {report.verdict}, "
            f"{report.inconclusive_reason or 'logins failed?'}); history {result.history_path}"
        )
    session_of = {op.index: op.session for op in report.operations}
    sessions: set[int] = set()
    checkers: Counter[str] = Counter()
    for finding in report.findings:
        checkers[finding.checker] += 1
        sessions.update(session_of[i] for i in finding.witness if i in session_of)
    spreads = [b.arrival_spread_ns for b in report.bursts if b.arrival_spread_ns is not None]
    return Detection(
        engine=engine,
        workers=workers,
        used=",".join(sorted({b.engine for b in report.bursts})) or "-",
        bursts=len(report.bursts),
        detected=len(sessions),
        checkers=dict(checkers),
        median_arrival_us=statistics.median(spreads) / 1000 if spreads else None,
        verdict=report.verdict,
    )


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.node()}: nproc {os.cpu_count()}, load average {load}"


def _table(rows: list[Detection], args: argparse.Namespace, before: str, after: str) -> str:
    lines = [
        f"Detection power: one refresh burst of N={args.n} against the reference server's "
        f"`naive` strategy (grace {GRACE_SECONDS:g} s, 127.0.0.1), {args.bursts} "
        "bursts per engine, one at a time; real runner and checkers (idempotent policy).",
        f"Machine before: {before}",
        f"Machine after:  {after}",
        "",
        "| server workers | engine | bursts | bursts with a finding | P(detect) "
        "| median arrival spread (us) | findings by checker |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        spread = "-" if row.median_arrival_us is None else f"{row.median_arrival_us:,.1f}"
        found = ", ".join(f"{k} {v}" for k, v in sorted(row.checkers.items())) or "none"
        name = row.engine if row.used == row.engine else f"{row.engine} ({row.used})"
        lines.append(
            f"| {row.workers} | {name} | {row.bursts} | {row.detected} "
            f"| {row.probability:.2f} | {spread} | {found} |"
        )
    lines.append("")
    for workers in sorted({r.workers for r in rows}):
        tight = [r for r in rows if r.workers == workers and r.engine in TIGHT]
        if tight:
            best = max(tight, key=lambda r: r.probability)
            met = "met" if best.probability >= 0.9 else "NOT met"
            lines.append(
                f"- {workers} worker(s): best of last-byte / single-packet is {best.engine} at "
                f"{best.probability:.2f} (goal >= 0.9: {met})"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse arguments, start Redis and a naive server, measure each engine, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--bursts", type=int, default=40)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument(
        "--workers", default="1,2", help="server worker processes to try, comma-separated"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    before = _machine()
    rows = []
    with tempfile.TemporaryDirectory(prefix="detection-") as folder, RedisProcess() as redis:
        for workers in (int(w) for w in args.workers.split(",")):
            with ServerProcess(
                "naive",
                redis_url=redis.url,
                workers=workers,
                grace=GRACE_SECONDS,
                extra_args=["--log-level", "warning"],
            ) as server:
                for engine in args.engines.split(","):
                    measure = (server.url, workers, engine, args.n, args.bursts, Path(folder))
                    rows.append(run(_measure, *measure))
    sys.stdout.write(_table(rows, args, before, _machine()))
    if args.json is not None:
        doc = [row.__dict__ | {"probability": row.probability} for row in rows]
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: does the tester's memory stay flat as a soak runs longer?

Why this script exists: a run used to keep its whole history in memory (about 1.4 KB per op),
so a long soak outgrew its load machine. A run now streams its history to disk and keeps only
what it still needs (each session's tokens, the requests in flight), and judging reads the
file afterwards. One run starts one embedded Redis and one reference server (``atomic``, one
worker) on 127.0.0.1 and drives the same closed-model soak (``--sessions`` sessions, a refresh/
use mix with a short think time) for each of ``--durations`` seconds, each in a fresh child
process that reports:

- **drive peak**: the child's peak RSS (``VmHWM``) when driving has ended, before judging:
  what a load machine needs for the run itself;
- **run peak**: its peak after judging the history from the file as ``auth-stress run`` does
  (analysis is linear in the history; see ``benchmarks/analyze.py``), for reference;
- ops recorded, and the growth of the drive peak per op between the shortest and the longest
  soak (the figure that used to be about 1.4 KB).

Usage::

    .venv/bin/python benchmarks/memory.py [--durations 20 120] [--sessions 40]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# ``--source DIR`` measures another checkout's tester (e.g. the one before a change) with the
# same soak: its child processes import ``stress`` from there.
SOURCE_ENV = "MEMORY_BENCH_SOURCE"
sys.path.insert(0, os.environ.get(SOURCE_ENV) or str(Path(__file__).resolve().parent.parent))

from stress.launcher import RedisProcess, ServerProcess  # noqa: E402 (after the path is set)

__all__ = ["main"]

SCENARIO = """
name = "memory-soak"
[target]
kind = "oauth2"
client_id = "demo-client"
resource = "/api/me"
[auth]
username = "user{{n}}"
password = "password"
[policy]
kind = "idempotent"
grace_seconds = 2
[run]
sessions = {sessions}
op_timeout_seconds = 10
max_ops = 10000000
max_seconds = {bound}
[[steps]]
op = "login"
[[steps]]
op = "load"
duration_seconds = {seconds}
think_seconds = 0.01
mix = {{ refresh = 2, use = 3 }}
[[steps]]
op = "probe"
"""


def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _child(scenario: Path, url: str, history: Path) -> None:
    """Drive the soak, note the peak, judge it from the file, note the peak again."""
    from stress.pipeline import RunOptions, drive_scenario, judge_drive
    from stress.scenario import load_scenario
    from stress.wire import run

    loaded = load_scenario(scenario)
    options = RunOptions(scenario_path=scenario, targets=(url,), history_path=history)
    drive = run(drive_scenario, loaded, options, None)
    drive_peak = _peak_kib()
    report = judge_drive(drive)
    result = {
        "drive_peak_kib": drive_peak,
        "run_peak_kib": _peak_kib(),
        "ops": len(drive.history),
        "end": drive.end.end,
        "verdict": report.verdict,
    }
    print(json.dumps(result))


def _measure(
    url: str, seconds: float, sessions: int, folder: Path, source: str | None
) -> dict[str, Any]:
    scenario = folder / f"soak-{seconds:g}.toml"
    text = SCENARIO.format(sessions=sessions, seconds=seconds, bound=seconds + 60)
    scenario.write_text(text)
    history = folder / f"soak-{seconds:g}.jsonl"
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(scenario), url, str(history)],
        capture_output=True,
        text=True,
        timeout=seconds + 600,
        check=True,
        env={**os.environ, SOURCE_ENV: source or ""},
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["seconds"] = seconds
    result["history_mib"] = history.stat().st_size / 2**20
    history.unlink()
    return result


def main() -> None:
    """Parse the arguments and print the table (or, as ``--child``, measure one soak)."""
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[20.0, 120.0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--source", help="measure the tester of this checkout instead")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with (
        RedisProcess() as redis,
        ServerProcess("atomic", redis_url=redis.url, extra_args=["--log-level", "warning"]) as srv,
        tempfile.TemporaryDirectory() as folder,
    ):
        rows = [
            _measure(srv.url, s, args.sessions, Path(folder), args.source) for s in args.durations
        ]
    print(f"machine: {platform.machine()}, nproc {os.cpu_count()}, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after; sessions "
          f"{args.sessions}; tester: {args.source or 'this checkout'}")  # fmt: skip
    print()
    print("| soak | records | history | drive peak RSS | run peak RSS (incl. judging) | end |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seconds']:g} s | {r['ops']:,} | {r['history_mib']:.1f} MiB | "
              f"{r['drive_peak_kib'] / 1024:.1f} MiB | {r['run_peak_kib'] / 1024:.1f} MiB | "
              f"{r['end']}, {r['verdict']} |")  # fmt: skip
    short, long = rows[0], rows[-1]
    extra_ops = long["ops"] - short["ops"]
    if extra_ops > 0:
        per_op = (long["drive_peak_kib"] - short["drive_peak_kib"]) * 1024 / extra_ops
        print()
        print(f"drive peak growth: {per_op:.1f} bytes per record over {extra_ops:,} more records")


if __name__ == "__main__":
    main()

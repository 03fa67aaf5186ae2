"""Benchmark: wall time, CPU time and peak memory of ``auth-stress analyze`` per history size.

Why this script exists: analysis must be linear in the history, with a 1M-op history
analysed in under 60 s and under 1 GiB of peak memory on a 2-core machine. For each
size it writes a synthetic history (``synthetic_history.py``: many interleaved sessions,
bursts, retries, timeouts, soak families, final probes, and seeded violations of every kind so
the checkers do real work), then runs, in a fresh child process per measurement so that peak
RSS belongs to that one analysis, the very function ``auth-stress analyze`` calls: load, pair,
every checker, and the report. The child checks the findings against those the generator
seeded, so a fast but wrong analysis cannot pass for a fast one.

The machine is shared: the table carries the load average before and after, and CPU seconds
beside wall seconds (CPU time moves less with other people's work).

Usage::

    .venv/bin/python benchmarks/analyze.py [--sizes 10000 100000 1000000] [--repeat 2]
        [--policy idempotent] [--violations-per 20000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_history import policy_for, write_history

from stress.pipeline import analyze_history

__all__ = ["main"]


def _status_mib(status: Path, field: str) -> float | None:
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return None


def _cpu_seconds(stat: Path) -> float | None:
    """User plus system CPU time of a running process, from ``/proc/PID/stat``."""
    if not stat.exists():
        return None
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib() -> float:
    """This process's peak resident set since it was exec'd.

    ``ru_maxrss`` would do on most systems, but on Linux it also carries the high-water mark the
    process had before exec (the parent's size at fork), so ``VmHWM`` is read where it exists.
    """
    peak = _status_mib(Path("/proc/self/status"), "VmHWM:")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(history: Path, expected_path: Path) -> None:
    """Analyse one history and print one JSON line of measurements."""
    ready_rss = _peak_rss_mib()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    report = analyze_history(history)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    peak = _peak_rss_mib()
    want = sorted((c, s, tuple(w)) for c, s, w in json.loads(expected_path.read_text()))
    got = sorted((f.checker, f.severity, f.witness) for f in report.findings)
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "peak_rss_mib": peak,
                "ready_rss_mib": ready_rss,
                "operations": len(report.operations),
                "findings": len(report.findings),
                "verdict": report.verdict,
                "findings_as_seeded": got == want,
            }
        )
    )


def _generate(history: Path, expected: Path, *params: str) -> None:
    size, violations, policy, grace, seed = params
    written = write_history(
        history,
        ops=int(size),
        seed=int(seed),
        policy="strict" if policy == "strict" else "idempotent",
        grace_seconds=float(grace),
        violations=int(violations),
    )
    rows = [[e.checker, e.severity, list(e.witness)] for e in written.expected]
    expected.write_text(json.dumps(rows))


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc {os.cpu_count()}, load average {load}, Python {platform.python_version()}, "
        f"{platform.machine()}"
    )


def _prepare(size: int, args: argparse.Namespace, directory: Path) -> tuple[Path, Path, int]:
    """The history and expected findings of one size (reused when already written)."""
    violations = max(1, size // args.violations_per) if args.violations_per else 0
    stem = f"{args.policy}-{size}-v{violations}-s{args.seed}"
    history = directory / f"{stem}.jsonl"
    expected = directory / f"{stem}.expected.json"
    if not (history.exists() and expected.exists()):
        # In a child process, so that this one stays small for the measurements it forks.
        command = [
            sys.executable, __file__, "--generate", str(history), str(expected), str(size),
            str(violations), args.policy, str(args.grace), str(args.seed),
        ]  # fmt: skip
        subprocess.run(command, check=True, timeout=args.timeout)
    with history.open("rb") as lines:
        records = sum(1 for line in lines if not line.startswith(b'{"record":')) - 1
    return history, expected, records


def _measure(history: Path, expected: Path, timeout: float) -> dict[str, object]:
    """One analysis in a child; past ``timeout`` it is stopped and reported as a lower bound."""
    command = [sys.executable, __file__, "--child", str(history), str(expected)]
    wall0 = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        out, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc = Path(f"/proc/{child.pid}")
        peak = _status_mib(proc / "status", "VmHWM:")
        cpu = _cpu_seconds(proc / "stat")
        child.kill()
        child.wait()
        return {"timed_out": True, "wall_s": time.perf_counter() - wall0, "cpu_s": cpu,
                "peak_rss_mib": peak}  # fmt: skip
    if child.returncode != 0:
        raise SystemExit(f"analysis of {history} failed with exit code {child.returncode}")
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=2, help="measurements per size")
    parser.add_argument("--policy", choices=("idempotent", "strict"), default="idempotent")
    parser.add_argument("--grace", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--violations-per", type=int, default=20_000, help="seed one bug of each kind per N records"
    )
    parser.add_argument("--dir", type=Path, help="keep the histories here (default: a temp dir)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per measurement")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return
    if args.generate:
        _generate(Path(args.generate[0]), Path(args.generate[1]), *args.generate[2:])
        return
    with tempfile.TemporaryDirectory(prefix="analyze-bench-") as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        before = _machine()
        rows = []
        for size in args.sizes:
            history, expected, records = _prepare(size, args, directory)
            for run in range(1, args.repeat + 1):
                result = _measure(history, expected, args.timeout)
                rows.append((records, run, result))
                print(f"# {records} records, run {run}: {json.dumps(result)}", file=sys.stderr)
        after = _machine()
    policy = policy_for(args.policy, args.grace).describe()
    print(
        f"`auth-stress analyze` (load, pair, every checker, report) of synthetic histories, "
        f"policy {policy}, seed {args.seed}, one bug of each kind seeded per "
        f"{args.violations_per} records; one child process per measurement."
    )
    print(f"Machine before: {before}")
    print(f"Machine after:  {after}\n")
    print(
        "| records | operations | findings | findings as seeded | run | wall s | CPU s "
        "| peak RSS MiB |"
    )
    print("|---:|---:|---:|:---:|---:|---:|---:|---:|")
    for records, run, r in rows:
        if r.get("timed_out"):
            cpu, peak = r["cpu_s"], r["peak_rss_mib"]
            cpu_text = f"> {cpu:.0f}" if isinstance(cpu, float) else ""
            peak_text = f"> {peak:.0f}" if isinstance(peak, float) else ""
            print(
                f"| {records:,} | | | timed out | {run} | > {r['wall_s']:.0f} | {cpu_text} | "
                f"{peak_text} |"
            )
            continue
        print(
            f"| {records:,} | {r['operations']:,} | {r['findings']} | "
            f"{'yes' if r['findings_as_seeded'] else 'NO'} | {run} | {r['wall_s']:.1f} | "
            f"{r['cpu_s']:.1f} | {r['peak_rss_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()

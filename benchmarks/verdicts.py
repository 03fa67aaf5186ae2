"""Benchmark: are the tester's verdicts right, run after run, on every kind of server?

Why this script exists: a verdict that is right once may be luck. This runs every case many
times through the real CLI (a separate process per run, as a user runs it) and counts:

- the independent test servers of tests/targets/oauth_behaviours, each judged under the
  policy it really promises, expecting the verdict and failing checkers of
  tests/support/verdict_cases.py;
- the reference server's strategies on one embedded Redis, judged with the shipped multi-tab
  burst (scenarios/multi-tab-burst.toml): `naive` and two-replica `local-lock` must fail,
  one-replica `local-lock`, two-replica `redis-lock` and two-replica `atomic` must pass.

A row is right when every run got the expected verdict (and, for the targets, the expected
failing checkers); a false positive is a failing run of a server that must pass. Every server
is on 127.0.0.1 and every run is bounded by its scenario.

Usage::

    .venv/bin/python benchmarks/verdicts.py [--runs 20] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.targets import TargetSpec, running_target  # noqa: E402
from support.verdict_cases import CASES, Case, scenario_text  # noqa: E402

from stress.launcher import RedisProcess, ServerProcess  # noqa: E402

MULTI_TAB = ROOT / "scenarios" / "multi-tab-burst.toml"
# The reference server's strategies (replicas on one Redis) and the verdict each must get.
REFERENCE = (
    ("naive", 1, "fail"),
    ("local-lock", 1, "pass"),
    ("local-lock", 2, "fail"),
    ("redis-lock", 2, "pass"),
    ("atomic", 2, "pass"),
)


@dataclass(frozen=True)
class Row:
    """One server configuration: how to start it, what to run, what must come out."""

    name: str
    expected: str
    failing: frozenset[str] | None  # the exact failing checkers, when they are part of it
    serve: Callable[[Path], AbstractContextManager[list[str]]]
    scenario: Callable[[list[str], Path], Path]


def _load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


@contextmanager
def _serve_target(spec: TargetSpec, name: str, folder: Path) -> Iterator[list[str]]:
    with running_target(spec, folder / f"{name}.log") as url:
        yield [url]


def _target_scenario(name: str, case: Case, urls: list[str], folder: Path) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(scenario_text(name, urls[0], case))
    return path


@contextmanager
def _serve_reference(
    strategy: str, replicas: int, redis_url: Callable[[], str], folder: Path
) -> Iterator[list[str]]:
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                ServerProcess(
                    strategy, redis_url=redis_url(), grace=5.0,
                    log_path=folder / f"{strategy}-{replicas}-{i}.log",
                )
            )
            for i in range(replicas)
        ]  # fmt: skip
        yield [s.url for s in servers]


def _multi_tab(urls: list[str], folder: Path) -> Path:
    return MULTI_TAB


def _rows(redis_url: Callable[[], str]) -> list[Row]:
    rows = [
        Row(
            name,
            case.verdict,
            case.failing,
            partial(_serve_target, case.spec, name),
            partial(_target_scenario, name, case),
        )
        for name, case in CASES.items()
    ]
    for strategy, replicas, expected in REFERENCE:
        label = f"reference {strategy}" + (f" x{replicas}" if replicas > 1 else "")
        serve = partial(_serve_reference, strategy, replicas, redis_url)
        rows.append(Row(label, expected, None, serve, _multi_tab))
    return rows


def _run_once(scenario: Path, urls: list[str], folder: Path, i: int) -> tuple[str, frozenset[str]]:
    report = folder / f"report-{i}.json"
    argv = [sys.executable, "-m", "stress", "run", str(scenario), "--no-progress",
            "--json", str(report), "--history", str(folder / f"history-{i}.jsonl")]  # fmt: skip
    for url in urls:
        argv += ["--target", url]
    subprocess.run(argv, capture_output=True, timeout=180, check=False, cwd=ROOT)
    document = json.loads(report.read_text())
    # A warning fails nothing (the verdict test counts the same way): a server that promised
    # no rotation and keeps old tokens valid is warned about, and passes.
    failing = frozenset(c for c, v in document["checkers"].items() if v not in ("pass", "warning"))
    return document["verdict"], failing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", default="", help="comma-separated row names")
    args = parser.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    print(f"Machine before: nproc {os.cpu_count()}, load {_load()}, "
          f"Python {platform.python_version()}, {platform.machine()}")  # fmt: skip
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        redis: list[RedisProcess] = []

        def redis_url() -> str:
            if not redis:
                redis.append(stack.enter_context(RedisProcess(log_path=folder / "redis.log")))
            return redis[0].url

        rows = [r for r in _rows(redis_url) if not only or r.name in only]
        print()
        print("| server | expected | verdicts | right | false positives |")
        print("|---|---|---|---:|---:|")
        for row in rows:
            verdicts: Counter[str] = Counter()
            right = 0
            with row.serve(folder) as urls:
                scenario = row.scenario(urls, folder)
                for i in range(args.runs):
                    verdict, failing = _run_once(scenario, urls, folder, i)
                    verdicts[verdict] += 1
                    exact = row.failing is None or failing == row.failing
                    right += int(verdict == row.expected and exact)
            shown = ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items()))
            false_pos = verdicts["fail"] if row.expected == "pass" else 0
            expected = row.expected + (
                f" ({', '.join(sorted(row.failing))})" if row.failing else ""
            )
            print(f"| {row.name} | {expected} | {shown} | {right}/{args.runs} | {false_pos} |",
                  flush=True)  # fmt: skip
    print()
    print(f"Machine after: load {_load()}; {time.monotonic() - started:.0f} s in all")


if __name__ == "__main__":
    main()

"""``auth-stress demo``: the whole story in one command.

Starts a real Redis and the reference server in each strategy as separate processes (two
replicas for the multi-process case), runs the shipped multi-tab burst scenario against each,
and compares: the naive strategies must be caught and the correct ones must pass. The tester
reaches the reference server over HTTP only, exactly as it would reach any other target.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from stress.errors import LaunchError
from stress.launcher import RedisProcess, ServerProcess
from stress.pipeline import RunOptions, drive_scenario, judge_drive
from stress.report import RunReport, verdict_style
from stress.scenario import Scenario, load_scenario
from stress.types import ExitCode
from stress.wire import run as run_async

__all__ = ["DEMO_CASES", "DemoCase", "DemoRow", "demo_scenario_path", "render_demo", "run_demo"]


@dataclass(frozen=True)
class DemoCase:
    """One server configuration and the verdict a correct tester must reach on it."""

    strategy: str
    replicas: int
    expected: str  # "fail" (the bug must be caught) or "pass"


DEMO_CASES = (
    DemoCase("naive", 1, "fail"),
    DemoCase("local-lock", 1, "pass"),
    DemoCase("local-lock", 2, "fail"),
    DemoCase("redis-lock", 2, "pass"),
    DemoCase("atomic", 2, "pass"),
)


@dataclass(frozen=True)
class DemoRow:
    case: DemoCase
    report: RunReport
    history: Path
    interrupted: bool = False

    @property
    def as_expected(self) -> bool:
        return self.report.verdict == self.case.expected


def demo_scenario_path() -> Path:
    """The shipped scenario, beside the package in a source checkout."""
    path = Path(__file__).resolve().parent.parent / "scenarios" / "multi-tab-burst.toml"
    if not path.is_file():
        raise LaunchError(f"demo scenario not found at {path}: run the demo from a source checkout")
    return path


def run_demo(status: Console) -> list[DemoRow]:
    """Run every case, stopping at the first one a signal interrupted; servers and Redis are
    stopped whatever happens (Ctrl-C while one starts raises ``KeyboardInterrupt``)."""
    path = demo_scenario_path()
    scenario = load_scenario(path)
    runs = Path("runs") / f"demo-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    rows = []
    with RedisProcess(log_path=_log(runs, "redis.log")) as redis:
        for case in DEMO_CASES:
            status.print(f"[dim]demo:[/] {case.strategy} x{case.replicas} ...", highlight=False)
            row = _run_case(case, scenario, path, redis.url, runs)
            rows.append(row)
            if row.interrupted:
                break
    return rows


def _log(runs: Path, name: str) -> Path:
    runs.mkdir(parents=True, exist_ok=True)
    return runs / name


def _run_case(
    case: DemoCase, scenario: Scenario, path: Path, redis_url: str, runs: Path
) -> DemoRow:
    label = f"{case.strategy}-x{case.replicas}"
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                ServerProcess(
                    strategy=case.strategy,
                    redis_url=redis_url,
                    grace=scenario.policy.model().grace_seconds,
                    log_path=_log(runs, f"{label}-server{i}.log"),
                )
            )
            for i in range(case.replicas)
        ]
        options = RunOptions(
            scenario_path=path,
            targets=[server.url for server in servers],
            history_path=runs / f"{label}.history.jsonl",
        )
        drive = run_async(drive_scenario, scenario, options, None)
    return DemoRow(
        case=case,
        report=judge_drive(drive),
        history=drive.path,
        interrupted=drive.interrupted,
    )


def render_demo(rows: list[DemoRow], console: Console) -> int:
    """Print the comparison table; 0 when every case got the verdict it must get, 1 when one
    did not, 3 when the demo was interrupted before it finished."""
    table = Table(title="auth-stress demo: multi-tab burst against each strategy")
    table.add_column("server", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("must", no_wrap=True)
    table.add_column("findings", no_wrap=True)
    table.add_column("refresh p50/p99", no_wrap=True, justify="right")
    for row in rows:
        counts = Counter(f.checker for f in row.report.findings if f.severity == "error")
        refresh = next((k for k in row.report.stats.kinds if k.kind == "refresh"), None)
        verdict = row.report.verdict
        replicas = f" x{row.case.replicas}" if row.case.replicas > 1 else ""
        table.add_row(
            row.case.strategy + replicas,
            f"[{verdict_style(verdict)}]{verdict}[/]",
            row.case.expected
            + ("" if row.as_expected or row.interrupted else " [bold red]MISMATCH[/]"),
            "\n".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-",
            f"{_ms(refresh.p50_ms if refresh else None)} / "
            f"{_ms(refresh.p99_ms if refresh else None)}",
        )
    console.print(table)
    if rows:
        console.print(f"histories: {rows[0].history.parent}", highlight=False)
    if any(row.interrupted for row in rows):
        console.print(
            f"[yellow]interrupted after {len(rows)} of {len(DEMO_CASES)} servers[/]",
            highlight=False,
        )
        return int(ExitCode.INCONCLUSIVE)
    ok = all(row.as_expected for row in rows)
    console.print(
        "[green]every naive strategy was caught and every correct one passed[/]"
        if ok
        else "[red]some strategy did not get the verdict it must get[/]"
    )
    return int(ExitCode.PASS if ok else ExitCode.FAIL)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"

"""Console rendering of a :class:`RunReport` with rich: what a person reads after a run.

The order follows the questions a reader asks: what was run and how tightly did the bursts
arrive (header), what happened (summary table), which rules held (checker table), how exactly
was a rule broken and how to see it again (each finding's timeline and reproducer lines), and
finally the verdict. It renders identically without colour (``Console(no_color=True)``), so CI
logs and tests read the same text; timeline lines are printed unwrapped so they stay greppable.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from stress.checkers.base import Verdict
from stress.checkers.judging import counted
from stress.report.model import RunReport
from stress.report.stats import SpreadSummary
from stress.report.text import checker_text, rest_hint
from stress.report.timeline import format_duration

__all__ = ["render_report", "verdict_style"]

_STYLES: dict[Verdict, str] = {"pass": "bold green", "fail": "bold red", "unknown": "bold yellow"}


_STATUS_STYLES = {"warning": "bold yellow", "partial": "dim", "not run": "dim"}


def verdict_style(verdict: Verdict) -> str:
    """The rich style for a verdict: green pass, red fail, yellow unknown."""
    return _STYLES[verdict]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _spread(ns: int | None) -> str:
    return "n/a" if ns is None else format_duration(ns)


def _spread_line(spread: SpreadSummary | None) -> str:
    if spread is None:
        return "no synchronised bursts"
    release = f"p50 {_spread(spread.release_p50_ns)} max {_spread(spread.release_max_ns)}"
    arrival = f"p50 {_spread(spread.arrival_p50_ns)} max {_spread(spread.arrival_max_ns)}"
    engines = ", ".join(spread.engines)
    return (
        f"{counted(spread.bursts, 'burst')}, engine {engines}; "
        f"release spread {release}; arrival spread {arrival}"
    )


def _plain(console: Console, text: str, style: str = "") -> None:
    console.print(Text(text, style=style), soft_wrap=True)


def _header(report: RunReport, console: Console) -> None:
    path = f" ({report.scenario_path})" if report.scenario_path else ""
    _plain(console, f"scenario  {report.scenario}{path}", "bold")
    _plain(console, f"targets   {', '.join(report.targets) or '-'}")
    _plain(console, f"policy    {report.policy.describe()}")
    _plain(console, f"bursts    {_spread_line(report.stats.spread)}")
    _plain(console, f"wall time {report.wall_seconds:.1f}s")
    for note in report.notes:
        _plain(console, f"note      {note}", "yellow")
    if report.inconclusive_reason:
        _plain(console, f"INCONCLUSIVE: {report.inconclusive_reason}", "bold yellow")


def _summary_table(report: RunReport) -> Table:
    table = Table(title="operations", title_justify="left")
    for name in ("kind", "ok", "fail", "info", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(name, justify="left" if name == "kind" else "right")
    for k in report.stats.kinds:
        table.add_row(
            k.kind, str(k.ok), str(k.fail), str(k.info), _ms(k.p50_ms), _ms(k.p95_ms), _ms(k.p99_ms)
        )
    if report.stats.statuses:
        statuses = ", ".join(f"{code}: {n}" for code, n in report.stats.statuses)
        table.caption = f"HTTP statuses  {statuses}"
        table.caption_justify = "left"
    return table


def _checker_table(report: RunReport) -> Table:
    table = Table(title="checkers", title_justify="left")
    table.add_column("checker")
    table.add_column("verdict")
    table.add_column("findings", justify="right")
    table.add_column("notes")
    for r in report.results:
        # A checker's pass on a run that proved nothing is shown as what it is (see the model).
        status = report.checker_status(r)
        verdict = Text(status, style=_STATUS_STYLES.get(status) or verdict_style(r.verdict))
        table.add_row(r.checker, verdict, str(len(r.findings)), "; ".join(r.notes))
    return table


def render_report(
    report: RunReport, console: Console, max_findings: int = 3, json_path: Path | None = None
) -> None:
    """Print the whole report to ``console``.

    At most ``max_findings`` findings per checker are printed in full (a naive server under a
    storm forks hundreds of times); the JSON report always holds them all, and the console says
    so when ``json_path`` names the one being written.
    """
    _header(report, console)
    console.print()
    console.print(_summary_table(report))
    console.print()
    console.print(_checker_table(report))
    rest = rest_hint(json_path)
    for result in report.results:
        for finding, lines in checker_text(report, result, max_findings, rest):
            console.print()
            if finding is not None:
                style = "bold red" if finding.severity == "error" else "bold yellow"
                _plain(console, lines[0], style)
                lines = lines[1:]
            for line in lines:
                _plain(console, line)
    if report.findings and report.reproduce:
        console.print()
        _plain(console, "reproduce with:")
        for line in report.reproduce:
            _plain(console, f"  {line}")
    console.print()
    counts = f"{counted(len(report.findings), 'finding')}, {counted(report.stats.total, 'op')}"
    reason = f" ({report.inconclusive_reason})" if report.inconclusive_reason else ""
    _plain(
        console,
        f"verdict: {report.verdict.upper()}{reason}, {counts}",
        verdict_style(report.verdict),
    )

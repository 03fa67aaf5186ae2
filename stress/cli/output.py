"""What every command shares: the consoles, the one way to fail with an exit code, and the
report files a command was asked to write."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stress.errors import ScenarioError
from stress.report import RunReport, render_report, write_html, write_json, write_junit
from stress.scenario import Scenario, load_scenario
from stress.types import ExitCode

__all__ = ["LogLevel", "emit", "fail", "load", "stderr", "stdout"]

stdout = Console()
stderr = Console(stderr=True)

LogLevel = Annotated[
    str, typer.Option("--log-level", help="debug, info, warning or error (JSON lines on stderr).")
]


def fail(code: ExitCode, message: str) -> typer.Exit:
    """Print ``error: message`` on stderr (one line, no traceback); raise the result."""
    stderr.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(int(code))


def load(path: Path) -> Scenario:
    """Load and validate a scenario, or exit 2 naming the file and the problem."""
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None


def emit(
    report: RunReport, json_path: Path | None, junit_path: Path | None, html_path: Path | None
) -> None:
    """Render the report on the console and write every report file that was asked for."""
    render_report(report, stdout)
    if json_path is not None:
        write_json(report, json_path)
    if junit_path is not None:
        write_junit(report, junit_path)
    if html_path is not None:
        write_html(report, html_path)

"""The ``auth-stress`` command line: parse arguments, call one library function, render, exit.

Exit codes (DESIGN.md): 0 every expectation holds · 1 a violation was found · 2 usage error or
invalid scenario/history · 3 inconclusive (target unreachable, interrupted, too many
indeterminate operations) · 4 internal error.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stress import __version__
from stress.cli_calibrate import calibrate_command
from stress.cli_init import init_command
from stress.errors import HistoryError, LaunchError, ScenarioError, StressError, TargetError
from stress.execute import RunOptions, analyze_history, run_scenario
from stress.logs import setup_logging
from stress.report import (
    RunReport,
    exit_code,
    render_report,
    write_html,
    write_json,
    write_junit,
)
from stress.scenario import Scenario, load_scenario
from stress.wire import HTTP2Mode
from stress.wire import run as run_async

__all__ = ["app", "main"]

EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3
EXIT_INTERNAL = 4

logger = logging.getLogger("stress.cli")
app = typer.Typer(
    name="auth-stress",
    help="Find concurrency bugs in refresh-token rotation before production does.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stdout = Console()
stderr = Console(stderr=True)

LogLevel = Annotated[
    str, typer.Option("--log-level", help="debug, info, warning or error (JSON lines on stderr).")
]


def _fail(code: int, message: str) -> typer.Exit:
    stderr.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def _emit(
    report: RunReport, json_path: Path | None, junit_path: Path | None, html_path: Path | None
) -> None:
    render_report(report, stdout)
    if json_path is not None:
        write_json(report, json_path)
    if junit_path is not None:
        write_junit(report, junit_path)
    if html_path is not None:
        write_html(report, html_path)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    target: Annotated[
        list[str] | None,
        typer.Option(help="Base URL; repeat to spread each burst over several replicas."),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="Override every step's sync engine: none, barrier, last-byte, "
            "single-packet or auto."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the JSON report.")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write a JUnit XML report.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    history: Annotated[
        Path | None, typer.Option(help="Where to stream the JSONL history (default: runs/).")
    ] = None,
    ca_file: Annotated[str | None, typer.Option(help="CA bundle for https targets.")] = None,
    insecure: Annotated[
        bool, typer.Option(help="Do not verify TLS certificates (test servers only).")
    ] = False,
    http2: Annotated[str, typer.Option(help="auto, never or always.")] = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    log_level: LogLevel = "warning",
) -> None:
    """Run a scenario against a target, check the history, report, and exit 0/1/3."""
    setup_logging(log_level)
    if engine is not None and engine not in (
        "none",
        "barrier",
        "last-byte",
        "single-packet",
        "auto",
    ):
        raise _fail(
            EXIT_USAGE,
            f"--engine {engine!r}: expected none, barrier, last-byte, single-packet or auto",
        )
    if http2 not in ("auto", "never", "always"):
        raise _fail(EXIT_USAGE, f"--http2 {http2!r}: expected auto, never or always")
    loaded = _load(scenario)
    options = RunOptions(
        scenario_path=scenario,
        targets=tuple(target or ()),
        engine=engine,
        seed=seed,
        history_path=history,
        ca_file=ca_file,
        insecure=insecure,
        http2=cast(HTTP2Mode, http2),
    )
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        disable=not progress,
        transient=True,
    ) as bar:
        task = bar.add_task(loaded.name, total=None)

        def advance(done: int, planned: int) -> None:
            bar.update(task, completed=done, total=max(planned, done))

        try:
            result = run_async(run_scenario, loaded, options, advance)
        except TargetError as exc:
            raise _fail(EXIT_INCONCLUSIVE, str(exc)) from None
        except KeyboardInterrupt:
            # Only before the runner takes over signals (discovery): nothing was recorded yet.
            raise _fail(EXIT_INCONCLUSIVE, "interrupted before the run started") from None
        except ScenarioError as exc:
            raise _fail(EXIT_USAGE, str(exc)) from None
    _emit(result.report, json_out, junit, html)
    stderr.print(f"history: {result.history_path}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_INTERNAL if result.crashed else exit_code(result.report))


@app.command()
def check(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files to validate.")],
) -> None:
    """Validate scenario files without running them; exit 2 if any is invalid."""
    bad = 0
    for path in scenarios:
        try:
            loaded = load_scenario(path)
        except ScenarioError as exc:
            bad += 1
            stderr.print(f"[red]invalid[/] {exc}", highlight=False)
        else:
            stdout.print(f"[green]ok[/] {path}: {loaded.name}", highlight=False)
    if bad:
        raise typer.Exit(EXIT_USAGE)


@app.command()
def analyze(
    history: Annotated[Path, typer.Argument(help="A JSONL history written by `run`.")],
    scenario: Annotated[Path, typer.Option(help="The scenario the history was recorded with.")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the JSON report.")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write a JUnit XML report.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    log_level: LogLevel = "warning",
) -> None:
    """Re-run the checkers on a saved history, without touching the network."""
    setup_logging(log_level)
    loaded = _load(scenario)
    try:
        report = analyze_history(history, loaded, scenario)
    except HistoryError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    _emit(report, json_out, junit, html)
    raise typer.Exit(exit_code(report))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def serve(ctx: typer.Context) -> None:
    """Start the reference server (options as `python -m reference_server --help`)."""
    command = [sys.executable, "-m", "reference_server", *ctx.args]
    try:
        raise typer.Exit(subprocess.call(command))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


@app.command()
def demo(
    log_level: LogLevel = "warning",
) -> None:
    """Run the multi-tab burst against every reference-server strategy and compare."""
    from stress.demo import render_demo, run_demo

    setup_logging(log_level)
    try:
        rows = run_demo(stderr)
    except LaunchError as exc:
        raise _fail(EXIT_INTERNAL, str(exc)) from None
    raise typer.Exit(render_demo(rows, stdout))


@app.command()
def version() -> None:
    """Print the version."""
    stdout.print(__version__)


def _load(path: Path) -> Scenario:
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None


app.command(name="calibrate")(calibrate_command)
app.command(name="init")(init_command)


def main() -> None:
    """Console-script entry point: map anything unexpected to exit 4 with a logged traceback."""
    try:
        app()
    except StressError as exc:  # a library error that escaped a command's own handling
        stderr.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(EXIT_INTERNAL)
    except Exception as exc:
        logger.critical("internal error", exc_info=exc)
        stderr.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(EXIT_INTERNAL)

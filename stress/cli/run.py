"""``auth-stress run``: drive a scenario against a target, judge its history, report, exit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stress.cli.output import LogLevel, emit, fail, load, stderr
from stress.errors import ScenarioError, TargetError
from stress.logs import setup_logging
from stress.pipeline import RunOptions, run_scenario
from stress.report import exit_code
from stress.types import ENGINES, ExitCode
from stress.wire import HTTP2Mode
from stress.wire import run as run_async

__all__ = ["run_command"]

_HTTP2 = ("auto", "never", "always")


def run_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    target: Annotated[
        list[str] | None,
        typer.Option(help="Base URL; repeat to spread each burst over several replicas."),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(help=f"Override every step's sync engine: {', '.join(ENGINES)}."),
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
    http2: Annotated[str, typer.Option(help=f"{', '.join(_HTTP2)}.")] = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    log_level: LogLevel = "warning",
) -> None:
    """Run a scenario against a target, check the history, report, and exit 0/1/3."""
    setup_logging(log_level)
    if engine is not None and engine not in ENGINES:
        raise fail(ExitCode.USAGE, f"--engine {engine!r}: expected {', '.join(ENGINES)}")
    if http2 not in _HTTP2:
        raise fail(ExitCode.USAGE, f"--http2 {http2!r}: expected {', '.join(_HTTP2)}")
    loaded = load(scenario)
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
            raise fail(ExitCode.INCONCLUSIVE, str(exc)) from None
        except KeyboardInterrupt:
            # Only before the driver takes over signals (discovery): nothing was recorded yet.
            raise fail(ExitCode.INCONCLUSIVE, "interrupted before the run started") from None
        except ScenarioError as exc:
            raise fail(ExitCode.USAGE, str(exc)) from None
    emit(result.report, json_out, junit, html)
    stderr.print(f"history: {result.history_path}", highlight=False, soft_wrap=True)
    raise typer.Exit(ExitCode.INTERNAL if result.crashed else exit_code(result.report))

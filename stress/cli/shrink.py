"""``auth-stress shrink``: reduce a failing scenario to the smallest one that still fails the
same way, and write it with how often it reproduces and how to rerun it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from stress.checkers import CHECKERS
from stress.cli.output import LogLevel, fail, load, prepare_outputs, start_logging, stderr, stdout
from stress.cli.target_options import (
    CaFile,
    EngineOption,
    Http2Option,
    Insecure,
    Targets,
    checked_engine,
    checked_http2,
)
from stress.errors import ScenarioError
from stress.pipeline import RunOptions, header_of, run_folder
from stress.report._atomic import write_atomic
from stress.reproduce.render import write_document
from stress.reproduce.repeat import Budget
from stress.reproduce.shrink import Attempt, shrink
from stress.reproduce.shrink_report import (
    attempt_line,
    rerun_command,
    shrink_document,
    shrink_lines,
    shrunk_scenario,
)
from stress.types import ExitCode

__all__ = ["shrink_command"]


def shrink_command(
    scenario: Annotated[Path, typer.Argument(metavar="SCENARIO", help="A failing scenario.")],
    target: Targets = None,
    reruns: Annotated[
        int,
        typer.Option(
            metavar="K", min=1, max=1000, help="Runs per candidate; kept if one reproduces."
        ),
    ] = 5,
    max_runs: Annotated[
        int, typer.Option(metavar="N", min=1, help="Runs in total, the start's included.")
    ] = 200,
    max_seconds: Annotated[
        float, typer.Option(metavar="S", min=1, help="Wall-clock bound of the whole shrink.")
    ] = 600.0,
    checker: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            help="The finding class to keep (a checker id); default: the start's most frequent.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write the smallest scenario (default: shrunk.toml in the run folder).",
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the JSON document.")
    ] = None,
    engine: EngineOption = None,
    ca_file: CaFile = None,
    insecure: Insecure = False,
    http2: Http2Option = "auto",
    log_level: LogLevel = "warning",
) -> None:
    """Shrink a failing scenario while the same finding class still reproduces.

    Exit codes: 0 nothing failed at the start, 1 a failing scenario was written (or the class
    asked for did not reproduce but others failed), 2 usage error or invalid scenario,
    3 inconclusive (target unreachable, interrupted before anything failed), 4 internal error.
    """
    start_logging(log_level)
    options = RunOptions(
        scenario_path=scenario,
        targets=tuple(target or ()),
        engine=checked_engine(engine),
        ca_file=ca_file,
        insecure=insecure,
        http2=checked_http2(http2),
    )
    if checker is not None and checker not in CHECKERS:
        raise fail(ExitCode.USAGE, f"--checker {checker!r}: expected one of {', '.join(CHECKERS)}")
    prepare_outputs({"--output": output, "--json": json_out})
    loaded = load(scenario)
    try:
        targets = header_of(loaded, options).targets
    except ScenarioError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    folder = run_folder(options.runs_dir, loaded.name, "-shrink")
    stderr.print(
        escape(
            f"shrinking {loaded.name}: {reruns} reruns per candidate, at most {max_runs} runs "
            f"and {max_seconds:g}s; histories in {folder}"
        ),
        highlight=False,
        soft_wrap=True,
    )

    def progress(attempt: Attempt, kept: str | None) -> None:
        line = attempt_line(attempt, kept, reruns)
        stderr.print(escape(line), highlight=False, soft_wrap=True)

    try:
        result = shrink(
            loaded,
            options,
            checker=checker,
            reruns=reruns,
            budget=Budget(max_runs=max_runs, max_seconds=max_seconds),
            folder=folder,
            on_attempt=progress,
        )
    except ScenarioError as exc:  # e.g. auth.password_env names an unset variable
        raise fail(ExitCode.USAGE, str(exc)) from None
    path = output or folder / "shrunk.toml"
    rerun = rerun_command(path, targets, engine, reruns)
    if result.checker is not None:
        write_atomic(path, shrunk_scenario(result, str(scenario), rerun).encode())
    for line in shrink_lines(result, path, rerun):
        stdout.print(escape(line), highlight=False, soft_wrap=True)
    if json_out is not None:
        write_document(shrink_document(result, path, rerun), json_out)
    raise typer.Exit(_exit_code(result.checker, result.start, result.stop))


def _exit_code(checker: str | None, start: Attempt, stop: str) -> int:
    if checker is not None or any(run.report.verdict == "fail" for run in start.runs):
        return ExitCode.FAIL
    if stop in ("interrupted", "inconclusive"):
        return ExitCode.INCONCLUSIVE
    return ExitCode.PASS

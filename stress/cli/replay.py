"""``auth-stress replay HISTORY --finding N``: send one finding's witness again, K times, and say
how often the same violation comes back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from stress.cli.output import LogLevel, fail, prepare_outputs, start_logging, stderr, stdout
from stress.cli.target_options import (
    CaFile,
    Http2Option,
    Insecure,
    Targets,
    checked_http2,
)
from stress.errors import HistoryError, ScenarioError
from stress.pipeline import RunOptions, run_folder
from stress.reproduce.render import write_document
from stress.reproduce.replay import Replay, prepare_replay, replay_finding
from stress.reproduce.replay_report import plan_lines, replay_document, replay_line, replay_lines
from stress.reproduce.witness import ReplayError
from stress.types import ExitCode

__all__ = ["replay_command"]


def replay_command(
    history: Annotated[Path, typer.Argument(metavar="HISTORY", help="A JSONL history.")],
    finding: Annotated[
        int, typer.Option(metavar="N", min=1, help="The finding's number in its report.")
    ],
    target: Targets = None,
    times: Annotated[int, typer.Option(metavar="K", min=1, max=1000, help="How many replays.")] = 5,
    scenario: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="How to log in and refresh (default: the history's scenario)."
        ),
    ] = None,
    whole_bursts: Annotated[
        bool,
        typer.Option(
            "--whole-bursts",
            help="Send every member of each recorded burst a witness op was in, not only the "
            "blamed ones.",
        ),
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the JSON document.")
    ] = None,
    ca_file: CaFile = None,
    insecure: Insecure = False,
    http2: Http2Option = "auto",
    log_level: LogLevel = "warning",
) -> None:
    """Replay a finding's witness with fresh tokens and its recorded timing; count reproductions.

    Exit codes: 0 no replay found a violation, 1 a replay did (the finding, or another one),
    2 usage error or a history/finding that cannot be replayed, 3 no violation but a replay
    was inconclusive, 4 internal error.
    """
    start_logging(log_level)
    options = RunOptions(
        targets=tuple(target or ()),
        ca_file=ca_file,
        insecure=insecure,
        http2=checked_http2(http2),
    )
    prepare_outputs({"--json": json_out})
    try:
        prepared = prepare_replay(
            history, finding, options, times, scenario, whole_bursts=whole_bursts
        )
    except (HistoryError, ScenarioError, ReplayError) as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    for line in plan_lines(prepared.plan, str(history)):
        stderr.print(escape(line), highlight=False, soft_wrap=True)

    def progress(replay: Replay) -> None:
        stderr.print(escape(replay_line(replay, times)), highlight=False, soft_wrap=True)

    folder = run_folder(options.runs_dir, prepared.scenario.name, f"-replay-finding-{finding}")
    try:
        result = replay_finding(prepared, times, folder, progress)
    except ScenarioError as exc:  # e.g. auth.password_env names an unset variable
        raise fail(ExitCode.USAGE, str(exc)) from None
    for line in replay_lines(result):
        stdout.print(escape(line), highlight=False, soft_wrap=True)
    if json_out is not None:
        write_document(replay_document(result), json_out)
    raise typer.Exit(result.exit_code())

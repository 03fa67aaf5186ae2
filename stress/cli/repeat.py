"""``auth-stress run SCENARIO --repeat K``: K runs of one scenario, one report of how often each
finding class reproduced."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from stress.cli.output import fail, progress_bar, stdout
from stress.errors import ScenarioError
from stress.pipeline import RunOptions
from stress.reproduce.render import repetition_document, repetition_lines, run_line, write_document
from stress.reproduce.repeat import repeat_scenario
from stress.reproduce.tally import RunOutcome
from stress.scenario import Scenario
from stress.types import ExitCode

__all__ = ["run_repeated"]


def run_repeated(
    scenario: Scenario, options: RunOptions, times: int, json_out: Path | None, progress: bool
) -> int:
    """Run ``times`` times, print the repetition report (and write ``json_out``); the exit code."""
    with progress_bar(progress) as bar:
        task = bar.add_task(f"{scenario.name}: runs", total=times)

        def on_run(run: RunOutcome) -> None:
            bar.console.print(escape(run_line(run, times)), highlight=False, soft_wrap=True)
            bar.advance(task)

        try:
            repetition = repeat_scenario(scenario, options, times, on_run)
        except ScenarioError as exc:
            raise fail(ExitCode.USAGE, str(exc)) from None
    for line in repetition_lines(repetition):
        stdout.print(escape(line), highlight=False, soft_wrap=True)
    if json_out is not None:
        write_document(repetition_document(repetition), json_out)
    return int(repetition.exit_code())

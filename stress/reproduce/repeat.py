"""Running one scenario several times, each run judged from its own history.

``run --repeat K`` and every shrink candidate are the same thing: K independent runs of one
scenario with the same seed, each streaming its own history into one folder, each judged from
that file exactly as ``analyze`` would. A run that was interrupted ends the repetition (the
user asked to stop); the runs made so far are still tallied. Between runs, while a report is
judged, signals are held off so that a second Ctrl-C cannot lose a finished run's report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec

from stress.pipeline import (
    RunOptions,
    drive_scenario,
    header_of,
    history_path,
    judge_drive,
    uninterrupted,
)
from stress.reproduce.tally import Repetition, RunOutcome
from stress.scenario import Scenario
from stress.wire import run as run_async

__all__ = ["Budget", "RunCallback", "history_file", "repeat_runs", "repeat_scenario"]

RunCallback = Callable[[RunOutcome], None]
"""Told about each run as soon as it has been judged (progress lines, progress bars)."""


def history_file(first: Path, number: int, width: int) -> Path:
    """The history of run ``number``: ``history.jsonl`` becomes ``history-03.jsonl``."""
    return first.with_name(f"{first.stem}-{number:0{width}d}{first.suffix}")


@dataclass
class Budget:
    """Bounds on the runs a command may make in total: a count and a wall-clock deadline.

    Each run's own time bound is capped at what is left, so the deadline holds to within one
    run's discovery and final probes.
    """

    max_runs: int
    max_seconds: float
    started: float = 0.0
    runs: int = 0

    def __post_init__(self) -> None:
        self.started = self.started or time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def remaining_seconds(self) -> float:
        return max(0.0, self.max_seconds - self.elapsed)

    def allows(self) -> bool:
        """True when one more run fits."""
        return self.runs < self.max_runs and self.remaining_seconds > 0

    def capped(self, scenario: Scenario) -> Scenario:
        """``scenario`` with its run bounded by the time left."""
        seconds = min(scenario.run.max_seconds, self.remaining_seconds)
        if seconds >= scenario.run.max_seconds:
            return scenario
        run = msgspec.structs.replace(scenario.run, max_seconds=max(seconds, 0.001))
        return msgspec.structs.replace(scenario, run=run)


def repeat_runs(
    scenario: Scenario,
    options: RunOptions,
    times: int,
    first: Path,
    *,
    on_run: RunCallback | None = None,
    budget: Budget | None = None,
) -> list[RunOutcome]:
    """Run ``scenario`` up to ``times`` times; run ``i`` writes :func:`history_file` (first, i).

    Stops early when a run was interrupted, or when ``budget`` allows no more runs. Raises
    ``ScenarioError`` (before any run) when the scenario cannot be run as asked.
    """
    width = max(2, len(str(times)))
    outcomes: list[RunOutcome] = []
    for number in range(1, times + 1):
        if budget is not None and not budget.allows():
            break
        path = history_file(first, number, width)
        bounded = budget.capped(scenario) if budget is not None else scenario
        drive = run_async(drive_scenario, bounded, replace(options, history_path=path))
        if budget is not None:
            budget.runs += 1
        with uninterrupted():
            report = judge_drive(drive)
            outcome = RunOutcome(number, drive.path, report, crashed=drive.end.end == "crashed")
            outcomes.append(outcome)
            if on_run is not None:
                on_run(outcome)
        if drive.end.end == "interrupted":
            break
    return outcomes


def repeat_scenario(
    scenario: Scenario, options: RunOptions, times: int, on_run: RunCallback | None = None
) -> Repetition:
    """``run --repeat``: ``times`` runs whose histories sit side by side in one run folder.

    ``--history runs/x/history.jsonl`` makes them ``runs/x/history-01.jsonl`` and so on.
    """
    header = header_of(scenario, options)  # a target that cannot be used fails here, once
    runs = repeat_runs(scenario, options, times, history_path(scenario, options), on_run=on_run)
    rerun = [*header.command, "--repeat", str(times)] if header.command else []
    return Repetition(
        scenario=scenario.name,
        scenario_path=header.scenario_path,
        targets=list(header.targets),
        requested=times,
        runs=tuple(runs),
        rerun=rerun,
    )

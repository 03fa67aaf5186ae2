"""Running one scenario several times, each run judged from its own history.

``run --repeat K``, every shrink candidate and every replay are the same loop: K independent
runs, each streaming its own history into one folder, each judged from that file exactly as
``analyze`` would. The user can stop the loop: a signal during a run interrupts that run (its
partial history is judged like any interrupted run), and a signal while a report is judged, or
between two runs, is held until the report is done; either way no further run starts and the
runs made so far are still tallied.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec

from stress.pipeline import (
    Drive,
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

__all__ = [
    "Batch",
    "Budget",
    "Driving",
    "RunCallback",
    "history_file",
    "repeat_drives",
    "repeat_runs",
    "repeat_scenario",
]

RunCallback = Callable[[RunOutcome], None]
"""Told about each run as soon as it has been judged (progress lines, progress bars)."""

Driving = Callable[[RunOptions], Drive]
"""Makes one run whose history goes to ``options.history_path`` (blocking: it runs its own
event loop)."""


def history_file(first: Path, number: int, width: int) -> Path:
    """The history of run ``number``: ``history.jsonl`` becomes ``history-03.jsonl``."""
    return first.with_name(f"{first.stem}-{number:0{width}d}{first.suffix}")


@dataclass
class Budget:
    """Bounds on the runs a command may make in total: a count and a wall-clock deadline.

    Each run's own time bound is capped at what is left (:meth:`capped`), so the deadline holds
    to within one run's discovery and final probes.
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


@dataclass(frozen=True)
class Batch:
    """The runs a loop made, and whether the user stopped it."""

    runs: tuple[RunOutcome, ...]
    interrupted: bool


def repeat_drives(
    drive: Driving,
    options: RunOptions,
    times: int,
    first: Path,
    *,
    on_run: RunCallback | None = None,
    budget: Budget | None = None,
) -> Batch:
    """Make up to ``times`` runs with ``drive``; run ``i`` writes :func:`history_file` (first, i).

    Stops early when the user interrupts, or when ``budget`` allows no more runs.
    """
    width = max(2, len(str(times)))
    outcomes: list[RunOutcome] = []
    # Between two runs (one run's event loop stopping, the next one's starting) the stop
    # signals are held, not Python's: each run's own watch takes them over while it lasts and
    # hands them back, so a signal at any moment stops the loop with every run made tallied.
    with uninterrupted() as between:
        for number in range(1, times + 1):
            if between or (budget is not None and not budget.allows()):
                return Batch(tuple(outcomes), interrupted=bool(between))
            path = history_file(first, number, width)
            made = drive(replace(options, history_path=path))
            if budget is not None:
                budget.runs += 1
            with uninterrupted() as held:
                crashed = made.end.end == "crashed"
                outcomes.append(RunOutcome(number, made.path, judge_drive(made), crashed))
                if on_run is not None:
                    on_run(outcomes[-1])
            if made.interrupted or held:
                return Batch(tuple(outcomes), interrupted=True)
        return Batch(tuple(outcomes), interrupted=bool(between))


def repeat_runs(
    scenario: Scenario,
    options: RunOptions,
    times: int,
    first: Path,
    *,
    on_run: RunCallback | None = None,
    budget: Budget | None = None,
) -> Batch:
    """Run ``scenario`` up to ``times`` times (see :func:`repeat_drives`)."""

    def drive(each: RunOptions) -> Drive:
        bounded = budget.capped(scenario) if budget is not None else scenario
        return run_async(drive_scenario, bounded, each)

    return repeat_drives(drive, options, times, first, on_run=on_run, budget=budget)


def repeat_scenario(
    scenario: Scenario, options: RunOptions, times: int, on_run: RunCallback | None = None
) -> Repetition:
    """``run --repeat``: ``times`` runs whose histories sit side by side in one run folder.

    ``--history runs/x/history.jsonl`` makes them ``runs/x/history-01.jsonl`` and so on.
    Raises ``ScenarioError`` (before any run) when the targets cannot be used.
    """
    header = header_of(scenario, options)
    first = history_path(scenario, options)
    batch = repeat_runs(scenario, options, times, first, on_run=on_run)
    rerun = [*header.command, "--repeat", str(times)] if header.command else []
    return Repetition(
        scenario=scenario.name,
        scenario_path=header.scenario_path,
        targets=list(header.targets),
        requested=times,
        runs=batch.runs,
        rerun=rerun,
    )

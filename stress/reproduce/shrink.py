"""Shrinking a failing scenario to the smallest one that still shows the same finding class.

The loop is greedy delta debugging over :func:`stress.reproduce.reduce.candidates`: measure the
scenario K times; pick the finding class to keep (asked for, or the one most runs reproduced);
then try the candidates of the current best in their fixed order, and keep the first one in
which the class reproduces in at least one of its K reruns, and start over from it. A scenario
already tried is never run again. The loop stops at a local minimum (no candidate of the best
reproduces), at the budget (``max_runs``, ``max_seconds``), or when a rerun was interrupted or
found the target unusable. Every rerun is a full run with its own history, judged from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import msgspec

from stress.pipeline import RunOptions, header_of, uninterrupted
from stress.reproduce.reduce import candidates
from stress.reproduce.repeat import Batch, Budget, repeat_runs
from stress.reproduce.tally import Estimate, RunOutcome, failing_classes, reproduces
from stress.scenario import Scenario

__all__ = ["Attempt", "ShrinkEvent", "ShrinkResult", "StopReason", "shrink"]

StopReason = Literal[
    "minimal", "max-runs", "max-seconds", "interrupted", "inconclusive", "nothing-fails"
]
"""Why shrinking stopped: a local minimum, a bound, the user, a run that proved nothing, or a
start where the class never reproduced."""


@dataclass(frozen=True)
class Attempt:
    """One measured scenario: the start (number 0) or a candidate, and its reruns."""

    number: int
    change: str
    scenario: Scenario
    runs: tuple[RunOutcome, ...]
    reproduced: int
    kept: bool

    @property
    def estimate(self) -> Estimate:
        return Estimate(self.reproduced, len(self.runs))


ShrinkEvent = Callable[[Attempt, str | None], None]
"""Told about every measured scenario, and the class kept (None: nothing failed), as soon as
its reruns are judged (progress lines)."""


@dataclass(frozen=True)
class ShrinkResult:
    """Where shrinking ended. ``checker`` is the kept class (None when nothing failed);
    ``best`` the smallest scenario that reproduced it, with the reruns that measured it."""

    checker: str | None
    start: Attempt
    best: Attempt
    attempts: tuple[Attempt, ...]
    stop: StopReason
    runs: int
    seconds: float
    folder: Path


def _stopped(batch: Batch) -> StopReason | None:
    """``interrupted`` or ``inconclusive`` when the reruns say shrinking cannot go on."""
    if batch.interrupted:
        return "interrupted"
    for run in batch.runs:
        if run.report.inconclusive_reason is not None and run.report.verdict != "fail":
            return "inconclusive"
    return None


class _Shrinker:
    """The state of one shrink: its options, budget, and every scenario measured so far."""

    def __init__(
        self,
        options: RunOptions,
        reruns: int,
        budget: Budget,
        folder: Path,
        on_attempt: ShrinkEvent | None,
        held: list[int],
    ) -> None:
        self.options = options
        self.reruns = reruns
        self.budget = budget
        self.folder = folder
        self.on_attempt = on_attempt
        self.attempts: list[Attempt] = []
        self.held = held  # stop signals that came between two batches of reruns

    def run(self, scenario: Scenario) -> Batch:
        """The reruns of the next scenario to measure, each with its history in its folder."""
        number = len(self.attempts)
        name = "start" if number == 0 else f"candidate-{number:03d}"
        first = self.folder / name / "history.jsonl"
        return repeat_runs(scenario, self.options, self.reruns, first, budget=self.budget)

    def record(
        self, change: str, scenario: Scenario, runs: tuple[RunOutcome, ...], checker: str | None
    ) -> Attempt:
        reproduced = sum(1 for run in runs if checker and reproduces(run.report, checker))
        attempt = Attempt(len(self.attempts), change, scenario, runs, reproduced, reproduced > 0)
        self.attempts.append(attempt)
        if self.on_attempt is not None:
            self.on_attempt(attempt, checker)
        return attempt

    def bound(self) -> StopReason | None:
        if self.held:
            return "interrupted"
        if self.budget.runs >= self.budget.max_runs:
            return "max-runs"
        if self.budget.remaining_seconds <= 0:
            return "max-seconds"
        return None

    def result(self, checker: str | None, best: Attempt, stop: StopReason) -> ShrinkResult:
        start = self.attempts[0]
        return ShrinkResult(
            checker=checker if start.kept else None,
            start=start,
            best=best,
            attempts=tuple(self.attempts),
            stop=stop,
            runs=self.budget.runs,
            seconds=self.budget.elapsed,
            folder=self.folder,
        )


def shrink(
    scenario: Scenario,
    options: RunOptions,
    *,
    checker: str | None,
    reruns: int,
    budget: Budget,
    folder: Path,
    on_attempt: ShrinkEvent | None = None,
) -> ShrinkResult:
    """Shrink ``scenario`` while ``checker``'s class (default: the start's most frequent failing
    class) reproduces in at least one of ``reruns`` runs per candidate.

    ``options`` are those of one run (targets, engine, TLS); each rerun writes its history
    under ``folder``. Raises ``ScenarioError`` before any run when the targets are unusable.
    """
    header_of(scenario, options)  # an unusable target fails here, before any run
    if options.scenario_dir is None and options.scenario_path is not None:
        options = replace(options, scenario_dir=options.scenario_path.parent)
    # Candidates are no file: their histories name no scenario path and no rerun command.
    options = replace(options, scenario_path=None)
    # Between two batches of reruns the stop signals are held, as between two runs of one.
    with uninterrupted() as held:
        shrinker = _Shrinker(options, reruns, budget, folder, on_attempt, held)
        return _shrunk(shrinker, scenario, checker, reruns)


def _shrunk(
    shrinker: _Shrinker, scenario: Scenario, checker: str | None, reruns: int
) -> ShrinkResult:
    batch = shrinker.run(scenario)
    failing = failing_classes(batch.runs)
    if checker is None and failing:
        checker = max(failing, key=lambda name: failing[name])  # registry order breaks ties
    best = shrinker.record("start", scenario, batch.runs, checker)
    if not best.kept:
        return shrinker.result(checker, best, _stopped(batch) or "nothing-fails")
    tried = {msgspec.json.encode(scenario)}
    while True:
        progressed = False
        for candidate in candidates(best.scenario):
            key = msgspec.json.encode(candidate.scenario)
            if key in tried:
                continue
            tried.add(key)
            bound = shrinker.bound()
            if bound is not None:
                return shrinker.result(checker, best, bound)
            batch = shrinker.run(candidate.scenario)
            attempt = shrinker.record(candidate.change, candidate.scenario, batch.runs, checker)
            if attempt.kept:
                best, progressed = attempt, True
            stopped = _stopped(batch)
            if stopped is not None:
                return shrinker.result(checker, best, stopped)
            if progressed:
                break
            if len(batch.runs) < reruns:  # cut short by the budget: this candidate is undecided
                return shrinker.result(checker, best, shrinker.bound() or "max-runs")
        if not progressed:
            return shrinker.result(checker, best, "minimal")

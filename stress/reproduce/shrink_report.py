"""What a shrink says: one progress line per measured scenario, the smallest failing scenario as
a TOML file with how to rerun it, the closing summary, and the ``--json`` document.

Progress lines read like a shrinker's log::

    start: 16 sessions, 1 round: login, refresh x8, use, refresh x8, use: fork 5/5
    candidate 1: sessions 16 -> 1: reproduced fork 5/5: kept
    candidate 9: step 2 (refresh) parallel 4 -> 1: reproduced fork 0/5: dropped
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import msgspec

from stress.checkers.judging import counted
from stress.reproduce.reduce import scenario_toml
from stress.reproduce.render import estimate_document, tool_document
from stress.reproduce.shrink import Attempt, ShrinkResult, StopReason
from stress.reproduce.tally import failing_classes, reproduces
from stress.scenario import LoadStep, RefreshStep, ReplayStep, Scenario, SleepStep, Step

__all__ = [
    "attempt_line",
    "outline",
    "rerun_command",
    "shrink_document",
    "shrink_lines",
    "shrunk_scenario",
]

_STOPS: dict[StopReason, str] = {
    "minimal": "a local minimum: no single reduction of it reproduces {checker}",
    "max-runs": "stopped at --max-runs: a smaller scenario may still reproduce {checker}",
    "max-seconds": "stopped at --max-seconds: a smaller scenario may still reproduce {checker}",
    "interrupted": "interrupted: a smaller scenario may still reproduce {checker}",
    "inconclusive": "stopped: a rerun was inconclusive (see its history)",
    "nothing-fails": "nothing failed",
}


def _step(step: Step) -> str:
    if isinstance(step, RefreshStep):
        text = f"refresh x{step.parallel}"
        if step.profile != "naive-parallel":
            text += f" {step.profile}"
        if step.tabs > 1:
            text += f" in {step.tabs} tabs"
        return text + (" + revoke" if step.revoke else "")
    if isinstance(step, ReplayStep):
        return f"replay age {step.age} x{step.parallel}"
    if isinstance(step, LoadStep):
        return f"load {step.duration_seconds:g}s"
    if isinstance(step, SleepStep):
        return f"sleep {step.seconds:g}s"
    return str(step.__struct_config__.tag)


def outline(scenario: Scenario) -> str:
    """``1 session, 1 round: login, refresh x2``."""
    run = scenario.run
    sizes = f"{counted(run.sessions, 'session')}, {counted(run.rounds, 'round')}"
    return f"{sizes}: {', '.join(_step(step) for step in scenario.steps)}"


def _also(attempt: Attempt, checker: str | None) -> str:
    """`` (also failing: dead-successor 5/5)``: the other classes the reruns reproduced."""
    n = len(attempt.runs)
    others = failing_classes(attempt.runs)
    listed = ", ".join(f"{name} {k}/{n}" for name, k in others.items() if name != checker)
    return f" (also failing: {listed})" if listed else ""


def attempt_line(attempt: Attempt, checker: str | None, reruns: int) -> str:
    """The progress line of one measured scenario."""
    measured = f"{attempt.reproduced}/{len(attempt.runs)}"
    if len(attempt.runs) < reruns:
        measured += f" (of {reruns} asked)"
    if attempt.number == 0:
        found = f"{checker} {measured}" if checker else f"no violation in {len(attempt.runs)} runs"
        return f"start: {outline(attempt.scenario)}: {found}{_also(attempt, checker)}"
    verdict = "kept" if attempt.kept else "dropped"
    return (
        f"candidate {attempt.number}: {attempt.change}: reproduced {checker} {measured}: {verdict}"
    )


def rerun_command(path: Path, targets: list[str], engine: str | None, times: int) -> list[str]:
    """The command that measures the written scenario again."""
    argv = ["auth-stress", "run", str(path)]
    for target in targets:
        argv += ["--target", target]
    if engine:
        argv += ["--engine", engine]
    return [*argv, "--repeat", str(times)]


def shrunk_scenario(result: ShrinkResult, source: str, rerun: list[str]) -> str:
    """The smallest failing scenario as TOML, its measurements in the opening comment."""
    assert result.checker is not None, "nothing failed: there is no reproducer to write"
    best = result.best.scenario
    named = msgspec.structs.replace(
        best,
        name=f"{best.name}-min",
        description=f"Smallest failing form of {best.name} found by auth-stress shrink: "
        f"keeps finding class {result.checker}.",
    )
    comment = "\n".join(
        [
            f"Shrunk from {source} by auth-stress shrink; keeps finding class {result.checker}.",
            f"Reproduced {result.checker} in {result.best.estimate.describe()} of its runs.",
            f"Shrinking ended at {_STOPS[result.stop].format(checker=result.checker)}."
            if result.stop == "minimal"
            else f"Shrinking {_STOPS[result.stop].format(checker=result.checker)}.",
            f"Rerun: {shlex.join(rerun)}",
        ]
    )
    return scenario_toml(named, comment)


def shrink_lines(result: ShrinkResult, output: Path | None, rerun: list[str]) -> list[str]:
    """The closing summary, after the progress lines."""
    start = result.start
    if result.checker is None:
        if result.stop == "interrupted":
            return [f"interrupted after {counted(len(start.runs), 'run')}: nothing to shrink yet"]
        reason = "some runs were inconclusive, " if result.stop == "inconclusive" else ""
        failing = _also(start, None).strip(" ()")
        if failing:
            return [f"nothing to shrink: the finding class asked for did not reproduce ({failing})"]
        return [f"nothing to shrink: {reason}no violation in {counted(len(start.runs), 'run')}"]
    kept = sum(1 for attempt in result.attempts[1:] if attempt.kept)
    tried = len(result.attempts) - 1
    lines = [
        f"smallest failing scenario: {output}",
        f"  keeps finding class {result.checker}: reproduced {result.best.estimate.describe()}",
        f"  from {outline(start.scenario)}",
        f"  to   {outline(result.best.scenario)}",
        f"  {kept} of {counted(tried, 'candidate')} kept, {counted(result.runs, 'run')} "
        f"in {result.seconds:.1f}s; {_STOPS[result.stop].format(checker=result.checker)}",
        f"rerun with: {shlex.join(rerun)}",
    ]
    return lines


def _attempt_document(attempt: Attempt, checker: str | None) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "change": attempt.change,
        "scenario": outline(attempt.scenario),
        **estimate_document(attempt.estimate),
        "kept": attempt.kept,
        "runs_reproducing": [
            run.number for run in attempt.runs if checker and reproduces(run.report, checker)
        ],
        "histories": [str(run.history) for run in attempt.runs],
    }


def shrink_document(result: ShrinkResult, output: Path | None, rerun: list[str]) -> dict[str, Any]:
    """The ``shrink --json FILE`` document, keys in their documented order."""
    found = result.checker is not None
    return {
        "kind": "shrink",
        "checker": result.checker,
        "stop": result.stop,
        "output": str(output) if found and output is not None else None,
        "reproduction": estimate_document(result.best.estimate) if found else None,
        "rerun": shlex.join(rerun) if found else None,
        "start": _attempt_document(result.start, result.checker),
        "smallest": _attempt_document(result.best, result.checker) if found else None,
        "attempts": [_attempt_document(a, result.checker) for a in result.attempts[1:]],
        "runs": result.runs,
        "seconds": round(result.seconds, 3),
        "folder": str(result.folder),
        "tool": tool_document(),
    }

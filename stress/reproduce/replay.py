"""``auth-stress replay``: send one finding's witness again, K times, and count reproductions.

The finding is the one numbered N in the report of the history, judged exactly as ``analyze``
judges it. Its witness is planned (:mod:`stress.reproduce.witness`) and sent K times against
the target (:mod:`stress.reproduce.replayer`), each replay writing a history of its own that is
judged under the recorded history's promises. A replay reproduces the finding when its report
holds a finding of the same :class:`~stress.reproduce.witness.Signature`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec

from stress.checkers.base import Finding
from stress.history import Header, load_history
from stress.pipeline import Drive, DriveParts, RunOptions, drive_with, header_of, judge
from stress.report.model import RunReport
from stress.reproduce.repeat import repeat_drives
from stress.reproduce.replayer import Replayer
from stress.reproduce.tally import Estimate, RunOutcome, exit_code_of
from stress.reproduce.witness import ReplayError, ReplayPlan, plan_replay
from stress.run_record import RunEnd, ShardId
from stress.scenario import Scenario, load_scenario
from stress.types import ExitCode
from stress.wire import run as run_async

__all__ = [
    "Prepared",
    "Replay",
    "ReplayCallback",
    "ReplayResult",
    "load_finding",
    "prepare_replay",
    "replay_finding",
]


@dataclass(frozen=True)
class Replay:
    """One replay: its run (history and report) and how many findings matched."""

    run: RunOutcome
    matches: int

    @property
    def reproduced(self) -> bool:
        return self.matches > 0


ReplayCallback = Callable[[Replay], None]


@dataclass(frozen=True)
class ReplayResult:
    """``requested`` replays of one finding's plan asked for; ``replays`` those made."""

    history: Path
    plan: ReplayPlan
    requested: int
    replays: tuple[Replay, ...]
    command: list[str]

    @property
    def estimate(self) -> Estimate:
        return Estimate(sum(1 for r in self.replays if r.reproduced), len(self.replays))

    @property
    def others(self) -> list[int]:
        """The replays that found a violation other than the one replayed."""
        return [
            r.run.number
            for r in self.replays
            if r.run.report.verdict == "fail" and not r.reproduced
        ]

    def exit_code(self) -> ExitCode:
        """1 if a replay found a violation (the finding or another one); else 4 if the tester
        crashed in one; else 3 if one was inconclusive or replays are missing; else 0."""
        return exit_code_of([r.run for r in self.replays], self.requested)


def load_finding(path: Path, number: int) -> tuple[Header, RunReport, Finding]:
    """The history's header, its report (as ``analyze`` judges it) and its finding ``number``.

    Raises ``HistoryError`` for an unreadable history, :class:`ReplayError` for a number that
    is not one of its findings.
    """
    history = load_history(path)
    report = judge(history, path)
    numbered = dict(
        (n, finding) for result in report.results for n, finding in report.numbered(result)
    )
    if not numbered:
        raise ReplayError(f"{path}: the history has no findings: nothing to replay")
    if number not in numbered:
        raise ReplayError(
            f"--finding {number}: {path} has findings 1 to {len(numbered)} "
            "(the numbers its report prints)"
        )
    return history.header, report, numbered[number]


def _scenario(header: Header, scenario_path: Path | None) -> tuple[Scenario, Path]:
    """The scenario that says how to log in and refresh: ``--scenario``, else the history's."""
    path = scenario_path or (Path(header.scenario_path) if header.scenario_path else None)
    if path is None:
        raise ReplayError(
            "the history names no scenario file: pass --scenario FILE (how to log in and "
            "refresh against the target)"
        )
    return load_scenario(path), path


@dataclass(frozen=True)
class Prepared:
    """A replay ready to send: the plan, the scenario and options to send it with, and the
    header each replay's history starts with."""

    history: Path
    plan: ReplayPlan
    scenario: Scenario
    options: RunOptions
    header: Header
    recorded_targets: list[str]


def prepare_replay(
    path: Path,
    number: int,
    options: RunOptions,
    times: int,
    scenario_path: Path | None = None,
    *,
    whole_bursts: bool = False,
) -> Prepared:
    """Plan the replay of finding ``number`` of the history at ``path``; send nothing.

    ``options.targets`` default to the targets the history was recorded against. Raises
    ``HistoryError``, ``ScenarioError`` or :class:`ReplayError` when the history, the scenario
    or the finding cannot be used.
    """
    recorded, report, finding = load_finding(path, number)
    plan = plan_replay(report.operations, finding, number, whole_bursts=whole_bursts)
    scenario, scenario_file = _scenario(recorded, scenario_path)
    options = replace(
        options,
        scenario_path=scenario_file,
        targets=tuple(options.targets) or tuple(recorded.targets),
    )
    base = header_of(scenario, options)
    command = ["auth-stress", "replay", str(path), "--finding", str(number)]
    for target in base.targets:
        command += ["--target", target]
    if whole_bursts:
        command.append("--whole-bursts")
    header = msgspec.structs.replace(
        base,
        scenario=f"{recorded.scenario} (replay of finding {number})",
        command=[*command, "--times", str(times)],
        policy=recorded.policy,
        checks=recorded.checks,
    )
    return Prepared(path, plan, scenario, options, header, list(recorded.targets))


def replay_finding(
    prepared: Prepared, times: int, folder: Path, on_replay: ReplayCallback | None = None
) -> ReplayResult:
    """Send the prepared replay ``times`` times, each into ``folder/replay-NN.jsonl``; stops
    early when the user interrupts."""
    plan = prepared.plan

    async def body(parts: DriveParts) -> RunEnd:
        return await Replayer(plan, parts, prepared.recorded_targets).run()

    def drive(each: RunOptions) -> Drive:
        # A replay is a run of its own: its own id and fingerprint key, not the recorded
        # run's (nor its shard: it replays one finding, whichever shard recorded it).
        header = msgspec.structs.replace(
            prepared.header,
            started_unix=time.time(),
            run_id=uuid.uuid4().hex,
            shard=ShardId(1, 1),
            key_check=None,
            start_at=None,
        )
        return run_async(drive_with, prepared.scenario, each, header, body)

    def told(run: RunOutcome) -> None:
        if on_replay is not None:
            on_replay(Replay(run, plan.signature.found_in(run.report)))

    first = folder / "replay.jsonl"
    batch = repeat_drives(drive, prepared.options, times, first, on_run=told)
    replays = tuple(Replay(run, plan.signature.found_in(run.report)) for run in batch.runs)
    return ReplayResult(prepared.history, plan, times, replays, prepared.header.command)

"""A Ctrl-C at any moment of a drive ends it with its run-end record, never a traceback.

Each case sends the process a real SIGINT at a moment a timed signal from outside would rarely
hit: between discovery and the run's first op, during the policy measurement a run makes first,
and while the run waits for ``--start-at``. The drive runs in this process, so the moment is
chosen exactly; the target is a real server process. A repetition is stopped between two of
its runs too.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from support.scenario_text import behaviour_scenario, steps
from support.targets import TargetSpec

from stress.drive import Driver
from stress.history import load_history
from stress.pipeline import Drive, DriveParts, RunOptions, drive_scenario, drive_with, header_of
from stress.reproduce.repeat import repeat_drives
from stress.scenario import Scenario, load_scenario
from stress.wire import run as run_async

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("oauth_target", [TargetSpec("idempotent", grace=2.0)], indirect=True),
]


def scenario_at(tmp_path: Path, url: str) -> tuple[Scenario, Path]:
    path = tmp_path / "interrupted.toml"
    path.write_text(
        behaviour_scenario(
            "interrupted",
            url,
            policy='kind = "idempotent"\ngrace_seconds = 2',
            run="sessions = 2\nop_timeout_seconds = 5\nmax_seconds = 30",
            steps=steps({"op": "login"}, {"op": "refresh", "parallel": 4}),
        )
    )
    return load_scenario(path), path


def interrupt_now() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_a_stop_after_discovery_before_the_first_op_ends_the_run(
    tmp_path: Path, oauth_target: str
) -> None:
    scenario, path = scenario_at(tmp_path, oauth_target)
    options = RunOptions(scenario_path=path, history_path=tmp_path / "history.jsonl")

    async def body(parts: DriveParts) -> object:
        interrupt_now()  # the history is open, no op has been sent, the driver is not built
        driver = Driver(
            scenario, parts.profile, parts.targets, parts.wire, parts.history, parts.claims,
            interrupt=parts.interrupt,
        )  # fmt: skip
        return await driver.run()

    drive: Drive = run_async(drive_with, scenario, options, header_of(scenario, options), body)
    assert (drive.end.end, drive.interrupted) == ("interrupted", True)
    recorded = load_history(drive.path)
    assert recorded.end is not None
    assert recorded.end.end == "interrupted"
    # The logins the sessions began as the signal arrived are closed as unknown, none refreshed.
    assert recorded.open_invokes() == []
    assert {(op.kind, op.type) for op in recorded} <= {("login", "invoke"), ("login", "info")}


def test_a_stop_during_the_policy_measurement_does_not_start_the_run(
    tmp_path: Path, oauth_target: str
) -> None:
    scenario, path = scenario_at(tmp_path, oauth_target)
    history = tmp_path / "history.jsonl"
    measured = history.with_name("policy.history.jsonl")
    options = RunOptions(scenario_path=path, history_path=history, measure_policy=True)

    async def main() -> Drive:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_interrupt_once_recorded, measured)
            drive = await drive_scenario(scenario, options)
            tg.cancel_scope.cancel()
        return drive

    drive = run_async(main)
    assert (drive.end.end, drive.end.detail) == ("interrupted", "during the policy measurement")
    measurement = load_history(measured)
    assert measurement.end is not None
    assert measurement.end.end == "interrupted"
    assert measurement.open_invokes() == []
    recorded = load_history(history)
    assert recorded.end is not None
    assert recorded.end.end == "interrupted"
    assert len(recorded) == 0


async def _interrupt_once_recorded(history: Path) -> None:
    """SIGINT as soon as the measurement recorded its first op (its grace search takes
    seconds against a 2 s window, so it is still measuring)."""
    await anyio.to_thread.run_sync(_wait_for_ops, history)
    interrupt_now()


def _wait_for_ops(history: Path) -> None:
    deadline = time.monotonic() + 30
    while not (history.exists() and len(history.read_bytes().splitlines()) > 2):
        if time.monotonic() > deadline:
            pytest.fail(f"nothing was recorded in {history} in 30 s")
        time.sleep(0.01)


def test_a_stop_while_waiting_for_the_start_time_ends_the_run(
    tmp_path: Path, oauth_target: str
) -> None:
    scenario, path = scenario_at(tmp_path, oauth_target)
    options = RunOptions(
        scenario_path=path, history_path=tmp_path / "history.jsonl", start_at=time.time() + 60
    )

    async def main() -> Drive:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_interrupt_after, 0.2)
                return await drive_scenario(scenario, options)

    drive = run_async(main)
    assert (drive.end.end, drive.end.detail) == ("interrupted", "waiting for --start-at")
    assert len(load_history(drive.path)) == 0


async def _interrupt_after(seconds: float) -> None:
    await anyio.sleep(seconds)
    interrupt_now()


def test_a_stop_between_two_runs_of_a_repetition_ends_it_with_the_runs_made(
    tmp_path: Path, oauth_target: str
) -> None:
    """Between two runs no event loop watches the signals: a SIGTERM there killed the process
    and every run made was lost with the batch's report."""
    scenario, path = scenario_at(tmp_path, oauth_target)
    first = tmp_path / "history.jsonl"
    made: list[Drive] = []

    def drive(each: RunOptions) -> Drive:
        made.append(run_async(drive_scenario, scenario, each))
        if len(made) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # the run's loop has stopped: no watch
        return made[-1]

    batch = repeat_drives(drive, RunOptions(scenario_path=path), 3, first)
    assert batch.interrupted
    assert [outcome.number for outcome in batch.runs] == [1]
    assert len(made) == 1
    assert made[0].end.end == "completed"

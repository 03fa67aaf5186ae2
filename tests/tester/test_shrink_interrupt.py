"""A stop signal between two batches of a shrink's reruns ends the shrink with what it found.

No event loop watches the signals there (each rerun's own watch has ended): a SIGTERM killed
the process and the shrink's result was lost. The target is a real server whose bursts log the
user out (``strict-revoke-family``), so the start fails and there are candidates to try.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from support.scenario_text import behaviour_scenario, steps
from support.targets import TargetSpec

from stress.pipeline import RunOptions
from stress.reproduce.repeat import Budget
from stress.reproduce.shrink import Attempt, shrink
from stress.scenario import load_scenario

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("oauth_target", [TargetSpec("strict-revoke-family")], indirect=True)
def test_a_stop_between_two_candidates_ends_the_shrink_as_interrupted(
    tmp_path: Path, oauth_target: str
) -> None:
    path = tmp_path / "logged-out.toml"
    path.write_text(
        behaviour_scenario(
            "logged-out",
            oauth_target,
            policy='kind = "strict"',
            run="sessions = 2\nop_timeout_seconds = 5\nmax_seconds = 30",
            steps=steps({"op": "login"}, {"op": "refresh", "parallel": 4, "profile": "multi-tab"}),
        )
    )
    attempts: list[Attempt] = []

    def told(attempt: Attempt, _checker: str | None) -> None:
        attempts.append(attempt)
        os.kill(os.getpid(), signal.SIGTERM)  # after the start's reruns, before any candidate

    result = shrink(
        load_scenario(path),
        RunOptions(scenario_path=path),
        checker=None,
        reruns=1,
        budget=Budget(max_runs=20, max_seconds=120, started=time.monotonic()),
        folder=tmp_path / "shrink",
        on_attempt=told,
    )
    assert result.stop == "interrupted"
    assert [attempt.change for attempt in attempts] == ["start"]
    assert result.start.kept  # the start did fail: there was more to shrink

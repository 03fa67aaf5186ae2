"""Shrink moves and the TOML writer: deterministic, smaller, valid, and faithful."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import msgspec
import pytest

from stress.reproduce.reduce import candidates, scenario_toml
from stress.scenario import RefreshStep, Scenario, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*(ROOT / "scenarios").glob("*.toml"), *(ROOT / "docs/examples").glob("*.toml")])
MULTI_TAB = ROOT / "scenarios" / "multi-tab-burst.toml"


def _size(scenario: Scenario) -> tuple[int, ...]:
    """What shrinking reduces, summed: no move may grow any of it."""
    widths = sum(
        step.parallel + step.tabs + step.revoke if isinstance(step, RefreshStep) else 0
        for step in scenario.steps
    )
    return (scenario.run.sessions, scenario.run.rounds, len(scenario.steps), widths)


def test_moves_come_in_a_fixed_order_biggest_first() -> None:
    changes = [c.change for c in candidates(load_scenario(MULTI_TAB))]
    assert changes[:4] == [
        "sessions 16 -> 1",
        "sessions 16 -> 8",
        "sessions 16 -> 15",
        "drop steps 3-4 (use, refresh)",
    ]
    assert "step 2 (refresh) parallel 8 -> 1" in changes
    # Dropping the login would leave refreshes without a pair: no such candidate.
    assert not any("login" in change for change in changes)
    assert changes == [c.change for c in candidates(load_scenario(MULTI_TAB))]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_candidate_is_valid_and_no_larger(path: Path) -> None:
    scenario = load_scenario(path)
    found = list(candidates(scenario))
    assert found, "every shipped scenario has something to shrink"
    for candidate in found:
        assert candidate.scenario != scenario, candidate.change
        smaller = [a <= b for a, b in zip(_size(candidate.scenario), _size(scenario), strict=True)]
        assert all(smaller), candidate.change
        document = msgspec.to_builtins(candidate.scenario)
        assert parse_scenario(document, "candidate") == candidate.scenario


def test_fewer_sessions_drop_a_concurrency_bound_that_no_longer_bounds() -> None:
    scenario = load_scenario(MULTI_TAB)
    assert scenario.run.concurrency == 8
    by_change = {c.change: c.scenario for c in candidates(scenario)}
    assert by_change["sessions 16 -> 1"].run.concurrency is None
    assert by_change["sessions 16 -> 15"].run.concurrency == 8


def test_narrower_bursts_keep_tabs_within_callers() -> None:
    text = MULTI_TAB.read_text().replace(
        'parallel = 8\nsync = "auto"', 'parallel = 8\nprofile = "single-flight"\ntabs = 4', 1
    )
    scenario = parse_scenario(tomllib.loads(text), "single-flight")
    by_change = {c.change: c.scenario for c in candidates(scenario)}
    narrowed = by_change["step 2 (refresh) parallel 8 -> 1"].steps[1]
    assert isinstance(narrowed, RefreshStep)
    assert (narrowed.parallel, narrowed.tabs) == (1, 1)
    assert "step 2 (refresh) tabs 4 -> 2" in by_change


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_toml_round_trips_without_defaults(path: Path) -> None:
    scenario = load_scenario(path)
    text = scenario_toml(scenario, "first line\nsecond line")
    assert text.startswith("# first line\n# second line\n\n")
    assert parse_scenario(tomllib.loads(text), path.name) == scenario
    assert "probe_concurrency" not in text  # a default, left out


def test_check_accepts_the_written_toml(tmp_path: Path) -> None:
    written = tmp_path / "shrunk.toml"
    smallest = next(iter(candidates(load_scenario(MULTI_TAB)))).scenario
    written.write_text(scenario_toml(smallest, "shrunk"))
    proc = subprocess.run(
        [sys.executable, "-m", "stress", "check", str(written)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert load_scenario(written).run.sessions == 1

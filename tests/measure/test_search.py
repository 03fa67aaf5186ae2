"""The grace search: doubling then bisection finds a window to its resolution, within bounds."""

from __future__ import annotations

import pytest

from stress.measure.search import (
    MAX_TRIALS,
    GraceSearch,
    resolution,
    simplest_between,
    worst_case_seconds,
)


def _rounds(
    window: float, grace_max: float, floor: float = 0.1
) -> tuple[GraceSearch, list[list[float]]]:
    """Search a server whose window is ``window``: a replay ``d`` s after the rotation's answer
    is accepted iff d < window (the server sees it a little later than it was sent)."""
    search, rounds = GraceSearch(grace_max, floor), []
    while delays := search.next_round():
        rounds.append(delays)
        for delay in delays:
            search.observe(delay, delay < window)
    return search, rounds


def _slept(rounds: list[list[float]], window: float) -> float:
    """A round's wall time: its longest delay, or its first rejected one (the prober calls off
    the trials that would replay later)."""
    return sum(min([d for d in delays if d >= window] or [max(delays)]) for delays in rounds)


def _search(window: float, grace_max: float, floor: float = 0.1) -> tuple[GraceSearch, list[float]]:
    search, rounds = _rounds(window, grace_max, floor)
    return search, [delay for delays in rounds for delay in delays]


@pytest.mark.parametrize("window", [0.05, 0.3, 0.6, 1.0, 2.0, 3.7, 7.5, 9.99])
def test_the_bracket_holds_the_window_and_is_as_narrow_as_the_resolution(window: float) -> None:
    search, _ = _search(window, grace_max=10)
    assert search.rejected is not None
    assert search.accepted < window <= search.rejected
    assert search.rejected - search.accepted <= resolution(search.accepted, 0.1) + 1e-9


def test_rounds_double_from_the_resolution_then_split_the_bracket() -> None:
    _, rounds = _rounds(0.6, grace_max=2)
    assert rounds[0] == [0.1, 0.2, 0.4, 0.8]  # four doublings at once
    # Bracket (0.4, 0.8): four points evenly inside it, which leaves (0.56, 0.64).
    assert rounds[1] == [0.48, 0.56, 0.64, 0.72]
    assert len(rounds) == 2


def test_doublings_stop_at_the_bound() -> None:
    _, rounds = _rounds(60, grace_max=1)
    assert rounds == [[0.1, 0.2, 0.4, 0.8], [1.0]]


@pytest.mark.parametrize("window", [0.3, 2.0, 5.0, 9.99])
def test_rounds_take_a_fraction_of_the_one_at_a_time_wall_time(window: float) -> None:
    """A round lasts as long as its longest delay: the search sleeps about three times the
    window, where one trial at a time slept about five times it."""
    _, rounds = _rounds(window, grace_max=10)
    assert _slept(rounds, window) <= 3.5 * window + 1.5


def test_the_trials_stay_within_their_cap() -> None:
    search, tried = _search(9.99, grace_max=3600, floor=0.001)
    assert len(tried) <= MAX_TRIALS
    assert search.trials == len(tried)


def test_a_window_longer_than_the_bound_stops_at_the_bound() -> None:
    search, tried = _search(60, grace_max=10)
    assert tried[-1] == 10
    assert max(tried) == 10
    assert search.longer_than_max
    assert search.rejected is None


@pytest.mark.parametrize("grace_max", [1.0, 2.0, 10.0, 30.0])
def test_the_worst_case_time_bounds_every_window(grace_max: float) -> None:
    """Sleeps of the search plus the reuse trial after it never exceed the stated worst case."""
    for step in range(1, 200):
        window = grace_max * step / 200
        search, rounds = _rounds(window, grace_max)
        reuse = (search.rejected + resolution(search.accepted, 0.1)) if search.rejected else 0
        slept = _slept(rounds, window)
        assert slept + reuse <= worst_case_seconds(grace_max), window


@pytest.mark.parametrize(
    ("low", "high", "simplest"),
    [
        (1.903, 2.004, 2.0),
        (0.503, 0.603, 0.6),
        (0.5625, 0.625, 0.6),
        (0.001, 0.101, 0.1),
        (1.94, 1.96, 1.95),
        (4.8, 5.01, 5.0),
        (0.0012, 0.0031, 0.002),
    ],
)
def test_the_simplest_decimal_in_the_bracket(low: float, high: float, simplest: float) -> None:
    assert simplest_between(low, high) == simplest


def test_the_resolution_is_a_floor_or_ten_percent() -> None:
    assert resolution(0.5, 0.1) == 0.1
    assert resolution(5.0, 0.1) == 0.5
    assert resolution(5.0, 1.0) == 1.0

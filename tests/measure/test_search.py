"""The grace search: doubling then bisection finds a window to its resolution, within bounds."""

from __future__ import annotations

import pytest

from stress.measure.search import (
    GraceSearch,
    resolution,
    simplest_between,
    worst_case_seconds,
)


def _search(window: float, grace_max: float, floor: float = 0.1) -> tuple[GraceSearch, list[float]]:
    """Search a server whose window is ``window``: a replay ``d`` s after the rotation's answer
    is accepted iff d < window (the server sees it a little later than it was sent)."""
    search, tried = GraceSearch(grace_max, floor), []
    while (delay := search.next_delay()) is not None:
        tried.append(delay)
        search.observe(delay, delay < window)
    return search, tried


@pytest.mark.parametrize("window", [0.05, 0.3, 0.6, 1.0, 2.0, 3.7, 7.5, 9.99])
def test_the_bracket_holds_the_window_and_is_as_narrow_as_the_resolution(window: float) -> None:
    search, _ = _search(window, grace_max=10)
    assert search.rejected is not None
    assert search.accepted < window <= search.rejected
    assert search.rejected - search.accepted <= resolution(search.accepted, 0.1) + 1e-9


def test_doubling_starts_at_the_resolution_and_bisection_follows() -> None:
    _, tried = _search(0.6, grace_max=2)
    assert tried == [0.1, 0.2, 0.4, 0.8, 0.6, 0.5]


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
        search, tried = _search(window, grace_max)
        reuse = (search.rejected + resolution(search.accepted, 0.1)) if search.rejected else 0
        assert sum(tried) + reuse <= worst_case_seconds(grace_max), window


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

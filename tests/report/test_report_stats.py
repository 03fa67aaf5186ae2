"""Run statistics: counts, nearest-rank percentiles, statuses and burst spreads."""

from __future__ import annotations

import pytest

from stress.checkers import threshold
from stress.checkers.base import CheckContext, Threshold
from stress.history import Op, Operation
from stress.policy import Policy
from stress.report.stats import BurstInfo, compute_stats, summarize_bursts


def test_counts_by_kind_and_outcome(operations: list[Operation]) -> None:
    stats = compute_stats(operations)
    refresh = next(k for k in stats.kinds if k.kind == "refresh")
    assert (refresh.ok, refresh.fail, refresh.info) == (2, 1, 0)
    assert [k.kind for k in stats.kinds] == ["login", "refresh"]
    assert stats.statuses == ((200, 3), (400, 1))
    assert stats.total == 4


def test_latency_over_ok_ops_only(operations: list[Operation]) -> None:
    stats = compute_stats(operations)
    refresh = next(k for k in stats.kinds if k.kind == "refresh")
    # Latencies 4.0 and 4.7 ms; the rejection (5.5 ms) is not timed.
    assert refresh.p50_ms == pytest.approx(4.0)
    assert refresh.p99_ms == pytest.approx(4.7)


def test_info_ops_count_but_do_not_shape_latency() -> None:
    ops = [
        Operation(
            invoke=Op(index=0, type="invoke", process=1, session=0, kind="refresh", time_ns=0),
            done=Op(index=1, type="info", process=1, session=0, kind="refresh", time_ns=10**10),
        ),
        Operation(
            invoke=Op(index=2, type="invoke", process=2, session=0, kind="refresh", time_ns=0),
            done=None,
        ),
    ]
    (refresh,) = compute_stats(ops).kinds
    assert refresh.info == 2
    assert refresh.p50_ms is None


def test_partial_arrival_times_are_noted() -> None:
    ops = [
        Operation(
            invoke=Op(
                index=i, type="invoke", process=i, session=0, kind="refresh", time_ns=i, burst=4
            ),
            done=Op(
                index=10 + i,
                type="ok",
                process=i,
                session=0,
                kind="refresh",
                time_ns=100,
                arrival_ns=50 + i if i < 2 else None,
            ),
        )
        for i in range(3)
    ]
    (burst,) = summarize_bursts(ops)
    assert burst == BurstInfo(
        burst=4,
        engine="none",
        size=3,
        release_spread_ns=2,
        arrival_spread_ns=1,
        notes=("arrival time known for 2/3 requests",),
    )


def test_spread_summary(operations: list[Operation]) -> None:
    spread = compute_stats(operations).spread
    assert spread is not None
    assert (spread.bursts, spread.engines) == (1, ("barrier",))
    assert (spread.release_max_ns, spread.arrival_max_ns) == (500_000, 300)


def test_report_and_threshold_checker_measure_the_same_latency() -> None:
    """A burst op waits 100 ms for its release, then the target answers in 10 ms.

    Latency counts from the actual send, not the invoke: the wait is the engine's, not the
    target's, so the report's percentiles and the threshold checker both say 10 ms, and a
    50 ms limit holds.
    """
    op = Operation(
        invoke=Op(index=0, type="invoke", process=1, session=0, kind="refresh", time_ns=0),
        done=Op(
            index=1,
            type="ok",
            process=1,
            session=0,
            kind="refresh",
            time_ns=110_000_000,
            sent_ns=100_000_000,
        ),
    )
    (refresh,) = compute_stats([op]).kinds
    assert refresh.p50_ms == refresh.p99_ms == 10.0
    limits = CheckContext(policy=Policy(), thresholds={"refresh": Threshold(p99_ms=50)})
    result = threshold.check([op], limits)
    assert (result.verdict, result.findings) == ("pass", ())

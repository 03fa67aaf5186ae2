"""threshold: nearest-rank latency percentiles and error rates per op kind."""

from __future__ import annotations

from dataclasses import replace

from stress.checkers import threshold
from stress.checkers.base import Threshold
from stress.history import RUN_STOPPED

from .histories import MS, History, ctx


def _refreshes(h: History, latencies_ms: list[float]) -> list[int]:
    return [
        h.refresh(p=i, presented=f"T{i}", returned=f"U{i}", t=(0, ms))
        for i, ms in enumerate(latencies_ms)
    ]


def test_latency_over_limit_is_caught_with_the_op_at_rank() -> None:
    h = History()
    ops = _refreshes(h, [1, 2, 3, 4, 50])
    result = threshold.check(
        h.operations(), ctx("strict", thresholds={"refresh": Threshold(p50_ms=10, p95_ms=20)})
    )
    assert result.verdict == "fail"
    assert [f.witness for f in result.findings] == [(ops[4],)]
    assert result.findings[0].message == "refresh p95 latency 50.0 ms exceeds 20 ms over 5 ok ops"
    assert result.findings[0].blame[0].why == "took 50.0 ms: the p95 of 5 ok ops"


def test_within_limits_passes() -> None:
    h = History()
    _refreshes(h, [1, 2, 3])
    limits = {"refresh": Threshold(p50_ms=5, p99_ms=5, max_error_rate=0.0)}
    result = threshold.check(h.operations(), ctx("strict", thresholds=limits))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_error_rate_counts_fail_and_info() -> None:
    h = History()
    _refreshes(h, [1, 2])
    bad = h.refresh(p=7, presented="X", t=(0, 3), o="fail")
    h.refresh(p=8, presented="Y", t=(0, 9), o="info", error="timeout")
    limits = {"refresh": Threshold(max_error_rate=0.25)}
    result = threshold.check(h.operations(), ctx("strict", thresholds=limits))
    assert result.verdict == "fail"
    assert result.findings[0].witness == (bad,)
    assert (
        result.findings[0].blame[0].why == "400 invalid_grant: the first of 2 that did not succeed"
    )
    assert "error rate 50.0% (2/4)" in result.findings[0].message


def test_ops_cut_short_by_the_run_itself_do_not_count() -> None:
    """Ctrl-C or a time bound leaves in-flight ops unknown: not the target's error rate."""
    h = History()
    _refreshes(h, [1, 2])
    h.refresh(p=7, presented="X", t=(0, 9), o="info", error=f"{RUN_STOPPED}: interrupted")
    h.refresh(p=8, presented="Y", t=(0, None))  # the tester died before writing a completion
    limits = {"refresh": Threshold(max_error_rate=0.1)}
    assert threshold.check(h.operations(), ctx("strict", thresholds=limits)).verdict == "pass"


def test_slow_indeterminate_ops_do_not_count_as_latency() -> None:
    h = History()
    _refreshes(h, [1, 2])
    h.refresh(p=8, presented="Y", t=(0, 5000), o="info")
    limits = {"refresh": Threshold(p99_ms=10)}
    assert threshold.check(h.operations(), ctx("strict", thresholds=limits)).verdict == "pass"


def test_kind_without_completed_ops_is_noted() -> None:
    h = History()
    h.use(p=0, presented="T", t=(0, 30), o="info", error="timeout")
    limits = {"use": Threshold(p50_ms=1), "revoke": Threshold(p50_ms=1)}
    result = threshold.check(h.operations(), ctx("strict", thresholds=limits))
    assert result.verdict == "pass"
    assert result.notes == (
        "use: no completed ok ops, latency not checked",
        "revoke: no ops, thresholds not checked",
    )


def test_what_a_dead_targets_death_ended_is_not_counted() -> None:
    h = History()
    a, b = "http://127.0.0.1:1", "http://127.0.0.1:2"
    h.refresh(p=0, presented="A", returned="B", t=(0, 5), target=a)
    rejected = h.refresh(p=1, presented="X", t=(1, 4), o="fail", target=a)
    h.refresh(p=2, presented="B", t=(4, 30), o="info", status=None, target=a)  # reset by death
    h.refresh(p=3, presented="B", t=(40, 41), o="fail", status=None, target=a)  # refused
    h.refresh(p=4, presented="C", returned="D", t=(40, 45), target=b)
    limit = {"refresh": Threshold(max_error_rate=0.4)}
    dead = ctx("strict", thresholds=limit)
    judged = threshold.check(h.operations(), replace(dead, dead_targets={a: 5 * MS}))
    assert judged.verdict == "pass"  # 1 rejection of 3 ops is within 40 %
    assert threshold.check(h.operations(), dead).verdict == "fail"  # 3 of 5 without the cutoff
    assert rejected == 1

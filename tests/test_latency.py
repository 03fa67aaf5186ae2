"""The one latency definition and the one percentile that checkers and reports share."""

from __future__ import annotations

import pytest

from stress.history import Op, Operation
from stress.latency import nearest_rank, percentile, service_latency_ns, timed


def _op(index: int, outcome: str, invoke_ms: int, sent_ms: int | None, done_ms: int) -> Operation:
    ms = 1_000_000
    return Operation(
        invoke=Op(
            index=index, type="invoke", process=index, session=0, kind="refresh",
            time_ns=invoke_ms * ms,
        ),
        done=Op(
            index=100 + index, type=outcome, process=index, session=0,  # type: ignore[arg-type]
            kind="refresh", time_ns=done_ms * ms,
            sent_ns=None if sent_ms is None else sent_ms * ms,
        ),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("p", "n", "expected"), [(50, 10, 4), (95, 10, 9), (99, 100, 98), (50, 1, 0), (11, 10, 1)]
)
def test_nearest_rank(p: float, n: int, expected: int) -> None:
    assert nearest_rank(n, p) == expected


@pytest.mark.parametrize(
    ("p", "expected"), [(50, 5.0), (95, 10.0), (99, 10.0), (10, 1.0), (11, 2.0)]
)
def test_percentile_of_values_in_any_order(p: float, expected: float) -> None:
    values = [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    assert percentile(values, p) == expected


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 99) is None


def test_latency_runs_from_the_actual_send_to_the_response() -> None:
    released = _op(0, "ok", invoke_ms=0, sent_ms=100, done_ms=110)
    plain = _op(1, "ok", invoke_ms=5, sent_ms=None, done_ms=8)
    assert service_latency_ns(released) == 10_000_000
    assert service_latency_ns(plain) == 3_000_000
    unfinished = Operation(invoke=released.invoke, done=None)
    assert service_latency_ns(unfinished) is None


def test_only_ok_ops_are_timed_fastest_first() -> None:
    ops = [
        _op(0, "ok", 0, None, 9),
        _op(1, "fail", 0, None, 1),
        _op(2, "info", 0, None, 500),
        _op(3, "ok", 0, None, 2),
        _op(4, "ok", 0, None, 9),
    ]
    assert [(ns // 1_000_000, op.index) for ns, op in timed(ops)] == [(2, 3), (9, 0), (9, 4)]

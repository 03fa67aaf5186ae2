"""Latency: how long the target took, defined once for the checkers and the reports alike.

An op's latency is its service time: from the moment its request actually left
(``Operation.send_ns``) to the moment its response was complete. A synchronised burst records
its invokes before it warms up and releases, so timing from the invoke would add the engine's
wait to the target's latency and make a report and a threshold disagree about the same op.

Latency figures (percentiles, histograms, thresholds) are taken over ``ok`` ops only: an
``info`` completion measures the client's deadline, and a ``fail`` may be a connect error that
never reached the target. Percentiles use the nearest-rank method. Everything here is pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from stress.history import Operation

__all__ = ["nearest_rank", "percentile", "service_latency_ns", "timed"]


def service_latency_ns(op: Operation) -> int | None:
    """Receive time minus the time the request actually left; None when it never completed."""
    recv = op.recv_ns
    return None if recv is None else recv - op.send_ns


def timed(ops: Iterable[Operation]) -> list[tuple[int, Operation]]:
    """The ``ok`` ops of ``ops`` with their latency (ns), fastest first (ties by invoke index)."""
    found = [
        (latency, op)
        for op in ops
        if op.outcome == "ok" and (latency := service_latency_ns(op)) is not None
    ]
    return sorted(found, key=lambda pair: (pair[0], pair[1].index))


def nearest_rank(count: int, p: float) -> int:
    """Index into ``count`` ascending values of the ``p``-th nearest-rank percentile (count > 0).

    The smallest value with at least ``p`` percent of the values at or below it:

    >>> [nearest_rank(10, p) for p in (10, 11, 50, 95, 99)]
    [0, 1, 4, 9, 9]
    """
    rank = max(1, math.ceil(p / 100 * count))
    return min(rank, count) - 1


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th nearest-rank percentile of ``values`` (any order); None when empty."""
    if not values:
        return None
    return sorted(values)[nearest_rank(len(values), p)]

"""Checker ``threshold``: latency and error-rate limits from the scenario, per op kind.

Latency percentiles use the nearest-rank method over ``ok`` ops only (a timeout's duration is the
runner's deadline, not the server's latency). The error rate is ``(fail + info) / all`` ops of
the kind. A kind with no ops, or no ``ok`` ops for a latency limit, is noted and passes: nothing
was measured. The witness of a latency finding is the op at the percentile's rank; that of an
error-rate finding is the first op that did not succeed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckResult, Finding, Threshold, Verdict
from stress.checkers.judging import finding
from stress.history import Operation

__all__ = ["CHECKER_ID", "check", "nearest_rank"]

CHECKER_ID = "threshold"

_PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0))


def nearest_rank(sorted_values: Sequence[int], percentile: float) -> int:
    """Index into ascending ``sorted_values`` of the nearest-rank percentile (non-empty input)."""
    rank = max(1, math.ceil(percentile / 100 * len(sorted_values)))
    return min(rank, len(sorted_values)) - 1


def _limit(threshold: Threshold, name: str) -> float | None:
    limit: float | None = getattr(threshold, f"{name}_ms")
    return limit


def _kind(kind: str, ops: list[Operation], threshold: Threshold) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    notes: list[str] = []
    if not ops:
        return findings, [f"{kind}: no ops, thresholds not checked"]
    timed = sorted(
        ((o.latency_ns, o) for o in ops if o.outcome == "ok" and o.latency_ns is not None),
        key=lambda pair: (pair[0], pair[1].index),
    )
    limits = [(name, p, _limit(threshold, name)) for name, p in _PERCENTILES]
    if not timed and any(limit is not None for _, _, limit in limits):
        notes.append(f"{kind}: no completed ok ops, latency not checked")
    for name, percentile, limit in limits:
        if limit is None or not timed:
            continue
        latency, op = timed[nearest_rank([t for t, _ in timed], percentile)]
        if latency / 1e6 > limit:
            findings.append(
                finding(
                    CHECKER_ID,
                    f"{kind} {name} latency {latency / 1e6:.1f} ms exceeds {limit:g} ms "
                    f"over {len(timed)} ok ops",
                    (op,),
                )
            )
    if threshold.max_error_rate is not None:
        bad = [o for o in ops if o.outcome != "ok"]
        rate = len(bad) / len(ops)
        if rate > threshold.max_error_rate:
            findings.append(
                finding(
                    CHECKER_ID,
                    f"{kind} error rate {rate:.1%} ({len(bad)}/{len(ops)}) exceeds "
                    f"{threshold.max_error_rate:.1%}",
                    bad[:1],
                )
            )
    return findings, notes


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Compare per-kind latency percentiles and error rates with the scenario's limits."""
    findings: list[Finding] = []
    notes: list[str] = []
    for kind, threshold in ctx.thresholds.items():
        # Ops the run itself cut short say nothing about the target's latency or error rate.
        of_kind = (o for o in ops if o.kind == kind and not o.stopped_by_run)
        ordered = sorted(of_kind, key=lambda o: (o.send_ns, o.index))
        found, noted = _kind(kind, ordered, threshold)
        findings.extend(found)
        notes.extend(noted)
    if not ctx.thresholds:
        notes.append("no thresholds declared")
    findings.sort(key=lambda f: (f.witness, f.message))
    verdict: Verdict = "fail" if findings else "pass"
    return CheckResult(CHECKER_ID, verdict, tuple(findings), tuple(notes))

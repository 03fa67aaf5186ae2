"""Checker ``threshold``: latency and error-rate limits from the scenario, per op kind.

Latency is the service time of ``ok`` ops, with nearest-rank percentiles, exactly as the report
measures it (``stress.latency``): a timeout's duration is the runner's deadline, and a burst's
wait before its release is the engine's, not the server's latency. The error rate is
``(fail + info) / all`` ops of the kind. A kind with no ops, or no ``ok`` ops for a latency
limit, is noted and passes: nothing was measured. The key op of a latency finding is the op at
the percentile's rank; that of an error-rate finding is the first op that did not succeed.
"""

from __future__ import annotations

from collections.abc import Sequence

from stress.checkers.base import (
    CheckContext,
    CheckerClass,
    CheckResult,
    Finding,
    Threshold,
    Verdict,
)
from stress.checkers.judging import answer, counted, finding
from stress.history import Operation
from stress.latency import nearest_rank, timed

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "threshold"
KIND: CheckerClass = "policy-dependent"
MEANING = (
    "A latency percentile or an error rate of one op kind exceeded the limit the scenario "
    "declares. Latency runs from the moment a request left to its complete response, over ok "
    "requests only, as the summary table shows it. Compare with the load the run applied (the "
    "summary table and the burst spreads) before changing the server or the limit."
)

_PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0))


def _limit(threshold: Threshold, name: str) -> float | None:
    limit: float | None = getattr(threshold, f"{name}_ms")
    return limit


def _kind(kind: str, ops: list[Operation], threshold: Threshold) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    notes: list[str] = []
    if not ops:
        return findings, [f"{kind}: no ops, thresholds not checked"]
    measured = timed(ops)
    limits = [(name, p, _limit(threshold, name)) for name, p in _PERCENTILES]
    if not measured and any(limit is not None for _, _, limit in limits):
        notes.append(f"{kind}: no completed ok ops, latency not checked")
    for name, percentile, limit in limits:
        if limit is None or not measured:
            continue
        latency, op = measured[nearest_rank(len(measured), percentile)]
        if latency / 1e6 > limit:
            over = counted(len(measured), "ok op")
            findings.append(
                finding(
                    CHECKER_ID,
                    f"{kind} {name} latency {latency / 1e6:.1f} ms exceeds {limit:g} ms "
                    f"over {over}",
                    key=(op, f"took {latency / 1e6:.1f} ms: the {name} of {over}"),
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
                    key=(bad[0], f"{answer(bad[0])}: the first of {len(bad)} that did not succeed"),
                )
            )
    return findings, notes


def _ended_by_death(op: Operation, dead: dict[str, int]) -> bool:
    """True for an op sent to a target after its last answer, or cut off without an answer
    after it: the target was dying or dead, and the op measures nothing of it."""
    since = dead.get(op.invoke.target or "")
    if since is None:
        return False
    ended = op.recv_ns if op.recv_ns is not None else op.send_ns
    return op.send_ns >= since or (op.status is None and ended >= since)


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Compare per-kind latency percentiles and error rates with the scenario's limits."""
    findings: list[Finding] = []
    notes: list[str] = []
    for kind, threshold in ctx.thresholds.items():
        # Ops the run itself cut short, and ops a target's death ended, say nothing about the
        # target's latency or error rate.
        of_kind = (
            o
            for o in ops
            if o.kind == kind and not o.stopped_by_run and not _ended_by_death(o, ctx.dead_targets)
        )
        ordered = sorted(of_kind, key=lambda o: (o.send_ns, o.index))
        found, noted = _kind(kind, ordered, threshold)
        findings.extend(found)
        notes.extend(noted)
    if not ctx.thresholds:
        notes.append("no thresholds declared")
    findings.sort(key=lambda f: (f.witness, f.message))
    verdict: Verdict = "fail" if findings else "pass"
    return CheckResult(CHECKER_ID, verdict, tuple(findings), tuple(notes))

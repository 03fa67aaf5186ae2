"""Checker ``stale-reuse-accepted``: the server accepted a token it must already have retired.

An ``ok`` refresh or probe presenting ``r`` is a violation when (ROTATION.md invariants 1, 6, 7):

- ``r`` had been consumed by a refresh that completed more than ``W`` before this op was sent
  (``W`` is 0 under ``strict``, so any op started after a completed rotation counts); or
- ``r`` is older than the immediate predecessor of the family's head: a child of ``r`` had itself
  been consumed before this op was sent (see ``Grace.stale_ancestor`` for ``overlap``).

Concurrent ops may linearise either way, so only ops that started after the proving rotation
*completed* are judged. Under ``none`` nothing is promised: if the server rotated anyway and
still accepted the old token, that is reported as a warning (Keycloak's default hands out new
refresh tokens while the old ones stay valid, which is ``none`` in effect).
"""

from __future__ import annotations

from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckResult, Finding, Severity
from stress.checkers.grace import Grace
from stress.checkers.judging import finding, verdict
from stress.checkers.lineage import ROTATING_KINDS, build_lineage, short
from stress.history import Operation

__all__ = ["CHECKER_ID", "check"]

CHECKER_ID = "stale-reuse-accepted"


def _violation(grace: Grace, op: Operation) -> Finding | None:
    token = op.presented
    if op.outcome != "ok" or token is None:
        return None
    severity: Severity = "warning" if grace.policy == "none" else "error"
    consumer = grace.stale_after_window(op)
    if consumer is not None:
        gap_ms = (op.send_ns - (consumer.recv_ns or 0)) / 1e6
        return finding(
            CHECKER_ID,
            f"{op.kind}({short(token)}) op {op.index} accepted {gap_ms:.1f} ms after op "
            f"{consumer.index} rotated it (grace {grace.window / 1e6:.1f} ms)",
            (consumer, op),
            severity,
        )
    ancestor = grace.stale_ancestor(op)
    if ancestor is not None:
        mint, consume = ancestor
        return finding(
            CHECKER_ID,
            f"{op.kind}({short(token)}) op {op.index} accepted although its successor "
            f"{short(mint.returned)} (op {mint.index}) was already rotated by op {consume.index}",
            (mint, consume, op),
            severity,
        )
    return None


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report accepted presentations of tokens that were certainly stale."""
    lineage = build_lineage(ops)
    grace = Grace.of(lineage, ctx)
    relevant = [o for o in lineage.ops if o.kind in ROTATING_KINDS]
    findings = [f for o in relevant if (f := _violation(grace, o)) is not None]
    notes: list[str] = []
    if ctx.policy == "none":
        notes.append("policy none: reuse of rotated tokens is reported as warnings only")
    return verdict(CHECKER_ID, findings, ctx, relevant, notes)

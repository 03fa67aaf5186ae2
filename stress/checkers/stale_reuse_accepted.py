"""Checker ``stale-reuse-accepted``: the server accepted a token it must already have retired.

An ``ok`` refresh or probe presenting ``r`` is a violation when (ROTATION.md invariants 1, 6, 7):

- ``r`` had been consumed by a refresh that completed more than ``W`` before this op was sent
  (``W`` is 0 when the policy accepts no replay, so any op started after a completed rotation
  counts); or, under ``policy.use_retires``, by a refresh whose access token was accepted by
  the API before this op was sent; or, under ``policy.max_replays``, after the rotation and
  every replay the policy allows had been accepted; or
- ``r`` is further behind the family's head than ``policy.generations`` allows: a descendant
  that many generations down had itself been consumed before this op was sent (see
  ``Grace.stale_ancestor`` for ``new-pair``).

Concurrent ops may linearise either way, so only ops that started after the proving rotation
*completed* are judged. Without rotation nothing is promised: if the server rotated anyway and
still accepted the old token, that is reported as a warning (Keycloak's default hands out new
refresh tokens while the old ones stay valid, which is no rotation in effect).
"""

from __future__ import annotations

from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding, Severity
from stress.checkers.grace import Grace
from stress.checkers.judging import counted, finding, stale_blame, verdict
from stress.checkers.lineage import ROTATING_KINDS, build_lineage, short
from stress.history import Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "stale-reuse-accepted"
KIND: CheckerClass = "policy-dependent"
MEANING = (
    "A refresh token the server must already have retired (rotated longer ago than the grace "
    "window, or more generations back than the policy accepts) was accepted: a stolen old refresh "
    "token still works. Reject retired tokens, and revoke their family as the policy says; if the "
    "server accepts a wider window or more generations on purpose, declare them in the policy."
)


def _violation(grace: Grace, op: Operation) -> Finding | None:
    token = op.presented
    if op.outcome != "ok" or token is None:
        return None
    severity: Severity = "error" if grace.policy.rotates else "warning"
    consumer = grace.stale_after_window(op)
    if consumer is not None:
        gap_ms = (op.send_ns - (consumer.recv_ns or 0)) / 1e6
        return finding(
            CHECKER_ID,
            f"{op.kind}({short(token)}) op {op.index} accepted {gap_ms:.1f} ms after op "
            f"{consumer.index} rotated it (grace {grace.window / 1e6:.1f} ms)",
            key=(op, f"presented {short(token)} after op {consumer.index} rotated it, accepted"),
            proof=[(consumer, f"rotated {short(token)}")],
            severity=severity,
        )
    retired = grace.retired_by_use(op)
    if retired is not None:
        rotation, use = retired
        return finding(
            CHECKER_ID,
            f"{op.kind}({short(token)}) op {op.index} accepted after op {use.index} used the "
            f"access token that op {rotation.index}, its rotation, handed out (the policy says "
            "that use ends the window)",
            key=(op, f"presented {short(token)} after its window ended, accepted"),
            proof=stale_blame(retired),
            severity=severity,
        )
    allowed = grace.beyond_replays(op)
    if allowed is not None:
        return finding(
            CHECKER_ID,
            f"{op.kind}({short(token)}) op {op.index} accepted after {len(allowed)} accepted "
            f"presentations of it, the rotation and the {grace.policy.max_replays} replay(s) the "
            "policy allows",
            key=(op, f"presented {short(token)} once more than allowed, accepted"),
            proof=stale_blame(allowed),
            severity=severity,
        )
    ancestor = grace.stale_ancestor(op)
    if ancestor is not None:
        *mints, consume = ancestor
        behind = len(mints) + 1
        back = counted(behind, "generation")
        return finding(
            CHECKER_ID,
            f"{op.kind}({short(token)}) op {op.index} accepted although it was {back} "
            f"behind: {short(mints[-1].returned)} (op {mints[-1].index}) was "
            f"already rotated by op {consume.index} (the policy accepts "
            f"{counted(grace.policy.generations, 'generation')} back)",
            key=(op, f"presented {short(token)}, {back} behind, accepted"),
            proof=stale_blame(ancestor),
            severity=severity,
        )
    return None


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report accepted presentations of tokens that were certainly stale."""
    lineage = build_lineage(ops)
    grace = Grace.of(lineage, ctx)
    relevant = [o for o in lineage.ops if o.kind in ROTATING_KINDS]
    findings = [f for o in relevant if (f := _violation(grace, o)) is not None]
    notes: list[str] = []
    if not ctx.policy.rotates:
        notes.append("no rotation promised: reuse of rotated tokens is reported as warnings only")
    return verdict(CHECKER_ID, findings, ctx, relevant, notes)

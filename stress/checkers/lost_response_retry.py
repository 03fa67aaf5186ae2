"""Checker ``lost-response-retry``: a client that lost a response retried in time and was refused.

FAPI 2.0 allows rotation only if "retrying the request (with the previous refresh token) will
succeed" when the client lost the response (ROTATION.md invariant 5). The runner marks such a
retry with ``retry_of``. When the policy accepts replays inside a window ``W > 0`` the retry
must not be rejected when it completed certainly within ``W`` of the earliest possible rotation
of the token, unless the family may already have been revoked or reused, or the retried token's
successor was already presented. A retry that returned a different successor where the policy
allows one successor is a fork and is reported by ``fork``, not here.
"""

from __future__ import annotations

from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding
from stress.checkers.grace import Grace
from stress.checkers.judging import answer, finding, rejected, verdict
from stress.checkers.lineage import build_lineage, short
from stress.history import Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "lost-response-retry"
KIND: CheckerClass = "policy-dependent"
MEANING = (
    "A client that lost a refresh response and retried with the previous token within the grace "
    "window was rejected: flaky networks log users out (FAPI 2.0 allows rotation only if such a "
    "retry succeeds). Accept the immediate predecessor within the window and return the successor "
    "already issued, or declare a policy without a grace window."
)


def _violation(grace: Grace, ctx: CheckContext, retry: Operation) -> Finding | None:
    retry_of = retry.invoke.retry_of
    lost = grace.lineage.by_index.get(retry_of) if retry_of is not None else None
    token = retry.presented
    if lost is None or token is None or lost.presented != token or lost.outcome == "fail":
        return None
    if not rejected(retry, ctx) or retry.recv_ns is None or not grace.certainly_within(retry):
        return None
    family = grace.lineage.family_of(token)
    if family is None:
        return None
    horizon = retry.recv_ns
    if grace.killed_before(family, horizon, exclude=(retry.index, lost.index)) is not None:
        return None
    children = grace.lineage.children.get(token, ())
    if any(grace.rotation_possible_before(child, horizon) for child in children):
        return None
    return finding(
        CHECKER_ID,
        f"retry op {retry.index} of refresh({short(token)}) after the lost response of op "
        f"{lost.index} was rejected ({answer(retry)}) within the grace window",
        key=(retry, f"retried {short(token)} within the grace window, rejected ({answer(retry)})"),
        proof=[(lost, f"refreshed {short(token)}; the client lost the response")],
    )


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report lost-response retries rejected within the grace window."""
    lineage = build_lineage(ops)
    grace = Grace.of(lineage, ctx)
    retries = [o for o in lineage.ops if o.kind == "refresh" and o.invoke.retry_of is not None]
    if not ctx.policy.accepts_replay:
        note = (
            f"off under policy {ctx.policy.describe()}: it accepts no replay, so retries may fail"
        )
        return CheckResult(CHECKER_ID, "pass", notes=(note,))
    notes = [] if retries else ["no lost-response retries in the history"]
    findings = [f for r in retries if (f := _violation(grace, ctx, r)) is not None]
    return verdict(CHECKER_ID, findings, ctx, retries, notes)

"""Checker ``dead-successor``: a 200 handed out a refresh token that never worked.

An invariant: it holds under every policy (a scenario may only relax it to a warning, with
``policy.relax``). A login or refresh that answers 200 promises that the refresh token it
returns works. Last-write-wins stores break that promise under concurrency: two refreshes both
pass the "is this the current token?" check, each writes its successor over the other, and the
one written first is dead although nobody ever used it; the client that kept it is logged out.

The proof: op ``m`` returned token ``t``; ``t``'s first presentation was rejected and no later
one worked; and nothing legitimately retired ``t`` before that rejection: no revoke of its
family, no possibly stale reuse in it (as ``policy.reuse_revokes`` scopes it), and no other
branch of the family moved on (under ``new-pair`` refreshing one sibling retires the others, and
so does using its access token under ``use_retires``; under any other policy a second branch is
already a ``fork``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding
from stress.checkers.grace import Grace, possibly_effective
from stress.checkers.judging import answer, finding, verdict
from stress.checkers.lineage import ROTATING_KINDS, build_lineage, short
from stress.checkers.self_inflicted_logout import dead_at_next_use
from stress.history import Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "dead-successor"
KIND: CheckerClass = "invariant"
MEANING = (
    "A login or refresh answered 200 with a refresh token that never worked: the client stored it "
    "and is logged out at its next refresh, although nobody used, revoked or replaced it. This is "
    "the mark of a last-write-wins store: two concurrent refreshes each wrote their successor and "
    "the later write erased the earlier one. Commit a successor with a compare-and-set on the "
    "token it replaces, so that the refresh that loses the race is rejected instead of answered "
    "200 with a dead token."
)

_ISSUING = frozenset({"login", "refresh", "probe"})


def _advances(grace: Grace) -> dict[str, tuple[list[int], list[Operation]]]:
    """Per family, the sends (sorted) and ops of every presentation that may have rotated, and,
    under ``policy.use_retires``, of every use that may have ended a window."""
    lineage = grace.lineage
    uses = grace.policy.use_retires
    per_family: dict[str, list[Operation]] = defaultdict(list)
    for o in lineage.ops:
        if not possibly_effective(o) or (
            o.kind not in ROTATING_KINDS and not (uses and o.kind == "use")
        ):
            continue
        family = lineage.family_of_op(o)
        if family is not None:
            per_family[family].append(o)
    index: dict[str, tuple[list[int], list[Operation]]] = {}
    for family, ops in per_family.items():
        ops.sort(key=lambda o: (o.send_ns, o.index))
        index[family] = ([o.send_ns for o in ops], ops)
    return index


def _moved_on(
    grace: Grace,
    advances: dict[str, tuple[list[int], list[Operation]]],
    token: str,
    since: int,
    until: int,
) -> bool:
    """True when another branch of ``token``'s family may have advanced in ``[since, until)``
    (a use of a branch's access token advances it under ``policy.use_retires``)."""
    lineage = grace.lineage
    family = lineage.family_of(token)
    sends, ops = advances.get(family or "", ([], []))
    branches = (
        lineage.access_to_refresh.get(o.presented or "") if o.kind == "use" else o.presented
        for o in ops[bisect_left(sends, since) : bisect_left(sends, until)]
    )
    return any(b != token and not lineage.is_ancestor(b or "", token) for b in branches)


def _dead_at_first_use(grace: Grace, ctx: CheckContext, mint: Operation) -> Operation | None:
    """The rejection of ``mint``'s token at its first presentation, unless something
    legitimately retired it first (everything but another branch moving the family on)."""
    token = mint.returned
    if token is None or token == mint.presented or grace.lineage.minted_by.get(token) != mint.index:
        return None
    rejection = dead_at_next_use(grace.lineage, ctx, token)
    family = grace.lineage.family_of(token)
    if rejection is None or rejection.recv_ns is None or family is None:
        return None
    if grace.killed_before(family, rejection.recv_ns, exclude=(rejection.index,)) is not None:
        return None
    return rejection


def _finding(ctx: CheckContext, mint: Operation, rejection: Operation) -> Finding:
    token = mint.returned
    return finding(
        CHECKER_ID,
        f"{mint.kind} op {mint.index} answered 200 with refresh token {short(token)}, "
        f"which was rejected the first time it was presented (op {rejection.index}: "
        f"{answer(rejection)}) although nothing had used it, revoked its family or moved the "
        "family on",
        key=(rejection, f"{short(token)} rejected when first presented ({answer(rejection)})"),
        proof=[(mint, f"answered 200 with {short(token)}")],
        severity="warning" if ctx.policy.relaxed("dead-successor") else "error",
    )


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report refresh tokens handed out by a 200 that were dead before anyone used them."""
    lineage = build_lineage(ops)
    grace = Grace.of(lineage, ctx)
    issued = [o for o in lineage.ops if o.kind in _ISSUING and o.outcome == "ok"]
    findings: list[Finding] = []
    advances: dict[str, tuple[list[int], list[Operation]]] | None = None
    for mint in issued:
        rejection = _dead_at_first_use(grace, ctx, mint)
        if rejection is None or rejection.recv_ns is None or mint.returned is None:
            continue
        advances = _advances(grace) if advances is None else advances
        if not _moved_on(grace, advances, mint.returned, mint.send_ns, rejection.recv_ns):
            findings.append(_finding(ctx, mint, rejection))
    notes = [] if issued else ["no refresh tokens were handed out"]
    presented = [o for o in lineage.ops if o.kind in ROTATING_KINDS]
    return verdict(CHECKER_ID, findings, ctx, presented, notes)

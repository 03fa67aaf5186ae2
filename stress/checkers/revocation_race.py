"""Checker ``revocation-race``: a revoked token, or one minted while it was being revoked, lives.

RFC 7009 §2.1: after a 200 the token "cannot be used again" (ROTATION.md invariant 8). For an
``ok`` revoke of token ``t``, every token derived from ``t`` (``t`` included) must be dead for
any refresh or probe sent after the revoke completed. A refresh that overlapped the revoke may
succeed, but its successor is derived from ``t`` and so must be dead once both finished; that
case is covered by the same rule because the successor can only be presented after both ended.

Conservative scope: a revoke of a token that had certainly been rotated before the revoke was
sent is skipped (RFC 7009 answers 200 for tokens it no longer knows, and Spring AS treats such a
revoke as a no-op), and siblings of ``t`` minted under ``overlap`` are not assumed to die with it
(RFC 7009 leaves related-token revocation to the server). Applies to every policy.
"""

from __future__ import annotations

from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding
from stress.checkers.grace import Grace
from stress.checkers.judging import finding, verdict
from stress.checkers.lineage import ROTATING_KINDS, build_lineage, short
from stress.history import Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "revocation-race"
KIND: CheckerClass = "policy-dependent"
MEANING = (
    "A token kept working after its revocation completed, or a refresh racing the revocation "
    "minted a successor that survived it: 'log out' does not log out. Run revocation through the "
    "same atomic path as refresh, and revoke every token derived from the revoked one."
)


def _violation(grace: Grace, revoke: Operation) -> Finding | None:
    token = revoke.presented
    if revoke.outcome != "ok" or token is None or revoke.recv_ns is None:
        return None
    lineage = grace.lineage
    if token not in lineage.family:
        return None
    if grace.consumed_before(token, revoke) is not None:
        return None
    # The first success recorded among the presentations of the revoked token's lineage.
    after = revoke.recv_ns
    op = min(
        (
            o
            for t in (token, *lineage.descendants(token))
            for o in lineage.presenting.get(t, ())
            if o.kind in ROTATING_KINDS and o.outcome == "ok" and o.send_ns > after
        ),
        key=lambda o: o.index,
        default=None,
    )
    if op is None or op.presented is None:
        return None
    presented = op.presented
    path = [lineage.by_index[i] for i in lineage.chain(token, presented)]
    via = "" if presented == token else f", derived from {short(token)}"
    return finding(
        CHECKER_ID,
        f"{op.kind}({short(presented)}{via}) op {op.index} succeeded after revoke "
        f"op {revoke.index} of {short(token)} completed",
        key=(op, f"{short(presented)} accepted after the revoke completed"),
        proof=[
            (revoke, f"revoked {short(token)}"),
            *((m, f"issued {short(m.returned)}") for m in path),
        ],
    )


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report tokens that refresh after their revocation (or their ancestor's) completed."""
    lineage = build_lineage(ops)
    grace = Grace.of(lineage, ctx)
    revokes = [o for o in lineage.ops if o.kind == "revoke"]
    notes = [] if revokes else ["no revocations in the history"]
    findings = [f for r in revokes if (f := _violation(grace, r)) is not None]
    return verdict(CHECKER_ID, findings, ctx, revokes, notes)

"""Checker ``self-inflicted-logout``: the holder's own concurrent refreshes left no working token.

An invariant: it holds under every policy (a scenario may only relax it to a warning, with
``policy.relax``). A burst of concurrent refreshes of one token by its legitimate holder (tabs
whose interceptors fire at once, a retrying SDK) must leave the user at least one working
token. Under single use the losers may be rejected, but the family must survive; a server whose
reuse detection counts the holder's own tabs as a thief and revokes the family logs the user
out (node oidc-provider with a duplicated request, supabase/auth-js#213).

The proof: at least one member succeeded, every token the burst handed out was rejected the
first time it was presented afterwards, by a later step or by the final probe, and never worked
again; and nothing else explains it: no revoke of the family and no possibly stale reuse
outside the burst (as ``policy.reuse_revokes`` scopes it). A burst with no winner proves nothing
about the burst: its token may have been dead before it (a token that never works is a
``dead-successor``). Bursts that replay an older token on purpose, or race a revoke (a logout),
are not the holder's refreshes.
"""

from __future__ import annotations

from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding
from stress.checkers.grace import Grace, possibly_effective
from stress.checkers.judging import answer, finding, rejected, verdict
from stress.checkers.lineage import Burst, Lineage, build_lineage, refresh_bursts, short
from stress.history import REPLAY_STEP, Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check", "dead_at_next_use"]

CHECKER_ID = "self-inflicted-logout"
KIND: CheckerClass = "invariant"
MEANING = (
    "The user's own concurrent refreshes (tabs whose interceptors fire at once, a retrying SDK) "
    "left them without a working token: the server took its holder's parallel requests for a "
    "theft and killed the family, so the user is logged out for doing nothing wrong. Treat "
    "concurrent refreshes of the current token as one (serialise them per family, or answer a "
    "replay inside a short grace window with the successor already issued), and keep reuse "
    "detection for tokens presented after that window."
)


def dead_at_next_use(
    lineage: Lineage,
    ctx: CheckContext,
    token: str,
    after: int | None = None,
    skip: frozenset[int] = frozenset(),
) -> Operation | None:
    """The rejection proving ``token`` was dead from its next presentation (at or after ``after``).

    None when it was never presented again, or when any presentation from then on succeeded or
    ended indeterminate: a token that works later was not dead (a burst may lose every request
    to a server that rejects concurrent refreshes, and the token still works afterwards).
    """
    ops, start = lineage.presented_from(token, after)
    later = range(start, len(ops))
    first = next((ops[i] for i in later if ops[i].index not in skip), None)
    if first is None or not rejected(first, ctx) or first.recv_ns is None:
        return None
    if any(possibly_effective(ops[i]) and ops[i].index not in skip for i in later):
        return None
    return first


def _holders_burst(burst: Burst, revoked: set[int]) -> bool:
    """True for the legitimate holder's refreshes: no replay of an older token, no revoke."""
    if any(o.invoke.step == REPLAY_STEP for o in burst.members):
        return False
    return burst.id not in revoked


def _logout(grace: Grace, ctx: CheckContext, burst: Burst) -> Finding | None:
    lineage = grace.lineage
    members = burst.members
    family = lineage.family_of(burst.token)
    if family is None or any(o.recv_ns is None for o in members):
        return None
    winners = [o for o in members if o.outcome == "ok"]
    if not winners:
        return None
    held = list(dict.fromkeys(o.returned or burst.token for o in winners))
    end = max(o.recv_ns or 0 for o in members)
    skip = frozenset(o.index for o in members)
    evidence: list[Operation] = []
    for token in held:
        dead = dead_at_next_use(lineage, ctx, token, end if token == burst.token else None, skip)
        if dead is None:
            return None
        evidence.append(dead)
    horizon = max(e.recv_ns or 0 for e in evidence)
    if grace.killed_before(family, horizon, skip | {e.index for e in evidence}) is not None:
        return None
    losers = [o for o in members if rejected(o, ctx)]
    dead_list = ", ".join(f"{short(e.presented)} (op {e.index}: {answer(e)})" for e in evidence)
    rejections = [
        (e, f"{short(e.presented)} rejected when next presented ({answer(e)})") for e in evidence
    ]
    outcome = f"{len(winners)} succeeded, {len(losers)} rejected"
    return finding(
        CHECKER_ID,
        f"burst {burst.id}: {len(members)} concurrent refreshes of {short(burst.token)} by its "
        f"holder ({outcome}) left no working token: {dead_list} rejected when next presented; "
        "the user was logged out by their own concurrent refreshes",
        key=rejections[0],
        proof=[
            *(
                (o, f"won the burst: {short(burst.token)} -> {short(o.returned or burst.token)}")
                for o in winners
            ),
            *((o, f"lost the burst ({answer(o)})") for o in losers[:1]),
            *rejections,
        ],
        severity="warning" if ctx.policy.relaxed("self-inflicted-logout") else "error",
    )


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report bursts of the holder's own refreshes after which no token of theirs worked."""
    lineage = build_lineage(ops)
    grace = Grace.of(lineage, ctx)
    revoked = {o.burst for o in lineage.ops if o.kind == "revoke" and o.burst is not None}
    found = [b for b in refresh_bursts(lineage) if _holders_burst(b, revoked)]
    notes = [] if found else ["no bursts of the holder's concurrent refreshes of one token"]
    findings = [f for b in found if (f := _logout(grace, ctx, b)) is not None]
    relevant = [o for b in found for o in b.members]
    return verdict(CHECKER_ID, findings, ctx, relevant, notes)

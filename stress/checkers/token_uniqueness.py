"""Checker ``token-uniqueness``: two requests were handed the same token or ``jti``.

RFC 7519 §4.1.7 and ROTATION.md invariant 10: no two distinct requests receive the same access
token, refresh token or ``jti`` (Spring AS issue 913 handed identical access tokens to
simultaneous requests). Allowed repeats, under every policy:

- a replay answered with the pair already issued: refreshes presenting the same token (or an
  ancestor of it, answered with the family's head) that got the same refresh token back, with
  the same access token or a fresh one. Handing every concurrent presenter of one token the same
  successor pair is the safe outcome; whether the replay should have been accepted at all is
  judged by the rotation checkers;
- a refresh handing back the token it was given (no rotation). That is the contract of a
  policy without rotation; under a rotating policy it is reported as a warning, unless the
  token had already been rotated (then it is a replay answered with an access token only).

A ``jti`` repeat is only reported when the access tokens differ, so one duplicate token yields one
finding. The same JWT access token without a ``jti`` issued twice is a warning, not a failure:
signed deterministically over the same claims with ``iat`` in seconds (``jsonwebtoken``'s
default), two tokens for one subject within a second are byte-identical by construction. That is
harmless where access tokens are validated statelessly, and it is what confused Spring AS, which
looks tokens up by value, so it is reported, not failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding
from stress.checkers.judging import finding, verdict
from stress.checkers.lineage import Lineage, build_lineage, short
from stress.history import Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "token-uniqueness"
KIND: CheckerClass = "policy-dependent"
MEANING = (
    "Two requests received the same access token, refresh token or jti, where only a replay "
    "answered with the pair already issued may repeat one: one client can act with a token issued "
    "to another, and revoking by jti hits both. Draw every token and jti from a secure random "
    "source per request, and never answer one request with a response cached for another."
)

_ISSUING = ("login", "refresh", "probe")


def _replay(lineage: Lineage, a: Operation, b: Operation) -> bool:
    """Both refreshed one lineage and got the same refresh token back: one pair, replayed."""
    if a.kind == "login" or b.kind == "login" or a.returned != b.returned:
        return False
    first, second = a.presented, b.presented
    if first is None or second is None:
        return False
    return (
        first == second or lineage.is_ancestor(first, second) or lineage.is_ancestor(second, first)
    )


def _duplicates(
    ops: list[Operation],
    value: Callable[[Operation], str | None],
    label: str,
    allowed: Callable[[Operation, Operation], bool],
    excuse: Callable[[Operation], str | None] = lambda op: None,
) -> list[Finding]:
    """A finding per value handed to two ops that ``allowed`` does not pair; one that
    ``excuse`` explains is a warning, with the explanation."""
    first: dict[str, Operation] = {}
    findings: list[Finding] = []
    reported: set[str] = set()
    for op in ops:
        v = value(op)
        if v is None:
            continue
        earlier = first.setdefault(v, op)
        if earlier is op or v in reported or allowed(earlier, op):
            continue
        reported.add(v)
        why = excuse(op)
        findings.append(
            finding(
                CHECKER_ID,
                f"{label} {short(v)} was returned to op {earlier.index} ({earlier.kind}) "
                f"and again to op {op.index} ({op.kind})" + (f": {why}" if why else ""),
                key=(op, f"got {label} {short(v)} again"),
                proof=[(earlier, f"got {label} {short(v)}")],
                severity="warning" if why else "error",
            )
        )
    return findings


def _deterministic(op: Operation) -> str | None:
    """Why a JWT access token without a ``jti`` may come out twice, if ``op``'s is one."""
    if op.claims is None or op.claims.jti is not None:
        return None
    return (
        "a JWT with no jti, signed over the same claims within the same second of iat, is "
        "byte-identical by construction; give each token a random jti if the server stores, "
        "looks up or revokes access tokens by value"
    )


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report access tokens, refresh tokens and ``jti`` values issued twice."""
    lineage = build_lineage(ops)
    issued = sorted(
        (o for o in lineage.ops if o.kind in _ISSUING and o.outcome == "ok"),
        key=lambda o: (o.recv_ns or 0, o.index),
    )
    findings: list[Finding] = []

    def replay(a: Operation, b: Operation) -> bool:
        return _replay(lineage, a, b)

    rotating = [o for o in issued if o.kind == "login" or o.returned != o.presented]
    findings += _duplicates(rotating, lambda o: o.returned, "refresh token", replay)
    if ctx.policy.rotates:
        findings += [
            finding(
                CHECKER_ID,
                f"{o.kind} op {o.index} returned the refresh token it presented "
                f"({short(o.presented)}): the server does not rotate, though the policy "
                f"({ctx.policy.describe()}) says it does",
                key=(o, f"got back the refresh token it presented, {short(o.presented)}"),
                severity="warning",
            )
            for o in issued
            if o.kind != "login"
            and o.returned is not None
            and o.returned == o.presented
            and not lineage.children.get(o.presented)
        ]

    def same_token_or_replay(a: Operation, b: Operation) -> bool:
        # The same access token twice is already reported above; its jti repeats with it.
        return replay(a, b) or (a.access is not None and a.access == b.access)

    findings += _duplicates(issued, lambda o: o.access, "access token", replay, _deterministic)
    findings += _duplicates(
        issued, lambda o: o.claims.jti if o.claims else None, "jti", same_token_or_replay
    )
    notes = [] if issued else ["no tokens were issued"]
    return verdict(CHECKER_ID, findings, ctx, [o for o in lineage.ops if o.kind in _ISSUING], notes)

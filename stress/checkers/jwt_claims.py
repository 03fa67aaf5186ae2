"""Checker ``jwt-claims``: an access token is invalid on its face or disagrees with its family.

The client records the claims of every access token it receives and, when a JWKS is known,
whether the signature verified. Violations:

- ``verified`` is False (the reason is ``verify_error``);
- ``exp <= iat`` (born expired) or ``nbf > exp`` (never valid);
- within one family (derived from lineage) ``sub`` differs, or ``sid`` differs where both tokens
  carry one: a rotation must not move the grant to another user or session.

Times are compared only with each other, never with the clock, so skew cannot cause a finding.
A token signed with a shared secret (HS256) cannot be verified against a JWKS: it is not judged,
and a note says how many were not.
Opaque (non-JWT) access tokens carry no claims and are skipped with a note.
"""

from __future__ import annotations

from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding
from stress.checkers.judging import finding, verdict
from stress.checkers.lineage import Lineage, build_lineage, short
from stress.history import Claims, Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "jwt-claims"
KIND: CheckerClass = "policy-dependent"
MEANING = (
    "An access token failed signature verification, was expired when issued (exp at or before "
    "iat, or nbf after exp), or names another user or session than the rest of its family: "
    "resource servers reject it, or accept it for the wrong user. Check the issuer's signing key "
    "and time arithmetic, and carry sub and sid unchanged across refreshes."
)

_ISSUING = ("login", "refresh", "probe")


def _own(op: Operation, claims: Claims) -> list[Finding]:
    unverified = claims.verified is False
    born_expired = claims.exp is not None and claims.iat is not None and claims.exp <= claims.iat
    never_valid = claims.exp is not None and claims.nbf is not None and claims.nbf > claims.exp
    if not (unverified or born_expired or never_valid):
        return []
    found: list[Finding] = []
    token = f"access token {short(op.access)}"
    where = f"{token} from {op.kind} op {op.index}"
    if unverified:
        message = f"{where} failed verification: {claims.verify_error}"
        found.append(
            finding(CHECKER_ID, message, key=(op, f"got {token}, which fails verification"))
        )
    if born_expired:
        message = f"{where} expires (exp {claims.exp}) at or before iat"
        found.append(finding(CHECKER_ID, message, key=(op, f"got {token}, expired when issued")))
    if never_valid:
        message = f"{where} has nbf {claims.nbf} after exp"
        found.append(finding(CHECKER_ID, message, key=(op, f"got {token}, never valid")))
    return found


def _family(lineage: Lineage, op: Operation) -> str | None:
    if op.kind == "login":
        return lineage.family_of(op.returned)
    return lineage.family_of(op.presented) or lineage.family_of(op.returned)


def _consistency(lineage: Lineage, ops: list[Operation]) -> list[Finding]:
    found: list[Finding] = []
    first: dict[tuple[str, str], Operation] = {}
    reported: set[tuple[str, str]] = set()
    for op in ops:
        family = _family(lineage, op)
        if family is None or op.claims is None:
            continue
        for name in ("sub", "sid"):
            value = getattr(op.claims, name)
            if value is None:
                continue
            key = (family, name)
            earlier = first.setdefault(key, op)
            if earlier.claims is None or key in reported:
                continue
            before = getattr(earlier.claims, name)
            if before != value:
                reported.add(key)
                found.append(
                    finding(
                        CHECKER_ID,
                        f"family {short(family)} changed {name} from {before!r} (op "
                        f"{earlier.index}) to {value!r} (op {op.index})",
                        key=(op, f"{name} {value!r} in the same family"),
                        proof=[(earlier, f"{name} {before!r}")],
                    )
                )
    return found


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report access tokens that fail verification or contradict their family's claims."""
    lineage = build_lineage(ops)
    issued = [o for o in lineage.ops if o.kind in _ISSUING and o.outcome == "ok"]
    with_claims = [o for o in issued if o.claims is not None]
    findings: list[Finding] = []
    for op in with_claims:
        if op.claims is not None:
            findings.extend(_own(op, op.claims))
    findings.extend(_consistency(lineage, sorted(with_claims, key=lambda o: (o.send_ns, o.index))))
    notes: list[str] = []
    # A signature the client could not judge (a shared secret's) comes with the reason.
    unchecked = [
        o.claims.verify_error
        for o in with_claims
        if o.claims is not None and o.claims.verified is None and o.claims.verify_error
    ]
    if not with_claims:
        notes.append("no access-token claims recorded (opaque tokens?)")
    elif unchecked:
        notes.append(f"{len(unchecked)} access token(s) not verified: {unchecked[0]}")
    elif all(o.claims is not None and o.claims.verified is None for o in with_claims):
        notes.append("signatures were not verified (no JWKS known)")
    relevant = [o for o in lineage.ops if o.kind in _ISSUING]
    return verdict(CHECKER_ID, findings, ctx, relevant, notes)

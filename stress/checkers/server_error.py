"""Checker ``server-error``: the target answered with a server error under contention.

Losing requests must get a deterministic 4xx (RFC 6749 §5.2; ROTATION.md invariant 11). Rules:

- 5xx other than 503 (500, 502, 504, ...): error. The server crashed or could not decide, which
  is how Hydra's and django-oauth-toolkit's refresh races surfaced.
- 503: warning. It is the overload answer a well-behaved target gives when its store is down
  (with Retry-After); the history does not record headers, so every 503 is treated that way.
- a status in ``documented_statuses``, or an undocumented 409 or 429: warning (reported, not
  failed). Other 4xx are rejections and are judged by the rotation checkers.
- an OAuth 2.0 token endpoint's 3xx or 4xx without an RFC 6749 error document (recorded
  unknown, ``no-oauth-error``): warning. It is likely a firewall's or a proxy's page, not the
  server's answer, and the user should know that part of the run was not judged.

Findings are grouped per (kind, status): the witness is the first such op and the message gives
the count and the phases of the run they happened in (a burst, a step, sustained load, or the
final probes). Every op with a status is relevant, so this checker never answers ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding, Severity, Verdict
from stress.checkers.judging import counted, finding
from stress.history import Operation
from stress.types import NOT_OAUTH, RETRYABLE_STATUSES

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "server-error"
KIND: CheckerClass = "policy-dependent"
MEANING = (
    "The target answered with a server error (5xx) under concurrency, or with a status it does "
    "not document: the losers of a race must get a deterministic 4xx (invalid_grant) so that "
    "clients know their token is gone. A 503 (overload) and the statuses the scenario documents "
    "are reported as warnings, as is a token endpoint's answer without an OAuth 2.0 error (a "
    "firewall's page, say), which was not judged. Look in the server's log at the time of the "
    "op shown."
)

OVERLOAD_STATUS = 503


def _severity(op: Operation, ctx: CheckContext) -> Severity | None:
    status = op.status
    if status is None:
        return None
    if op.error == NOT_OAUTH or status in ctx.documented_statuses or status == OVERLOAD_STATUS:
        return "warning"
    if status >= 500:
        return "error"
    if status in RETRYABLE_STATUSES:
        return "warning"
    return None


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report 5xx answers (errors) and documented or retryable statuses (warnings)."""
    groups: dict[tuple[str, int, bool], list[Operation]] = {}
    reported = (o for o in ops if o.status is not None and _severity(o, ctx) is not None)
    for op in sorted(reported, key=lambda o: (o.send_ns, o.index)):
        if op.status is not None:
            groups.setdefault((op.kind, op.status, op.error == NOT_OAUTH), []).append(op)
    findings: list[Finding] = []
    for (kind, status, foreign), group in groups.items():
        first = group[0]
        severity = _severity(first, ctx)
        if severity is None:
            continue
        if foreign:
            why = "without an OAuth 2.0 error: a firewall's or a proxy's page? counted unknown"
        elif status in ctx.documented_statuses:
            why = "documented"
        else:
            why = "undocumented"
        phases = ", ".join(dict.fromkeys(o.phase or "step" for o in group))
        findings.append(
            finding(
                CHECKER_ID,
                f"{kind} answered {status} ({why}) {counted(len(group), 'time')} during {phases}, "
                f"first at op {first.index}" + (f": {first.error}" if first.error else ""),
                key=(first, f"answered {status}, the first of {len(group)}"),
                severity=severity,
            )
        )
    findings.sort(key=lambda f: (f.witness, f.message))
    verdict: Verdict = "fail" if any(f.severity == "error" for f in findings) else "pass"
    return CheckResult(CHECKER_ID, verdict, tuple(findings))

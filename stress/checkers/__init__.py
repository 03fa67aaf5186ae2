"""The checkers, by stable id, and the safe way to run them.

Each checker is a pure function of the paired operations and the declared policy (see
``stress.checkers.base``). ``run_checkers`` is Jepsen's ``check-safe``: a checker that raises
yields ``unknown`` with the exception in its notes, is logged with its traceback, and never stops
the others.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from stress.checkers import (
    dead_successor,
    fork,
    jwt_claims,
    lost_response_retry,
    retry_later_logout,
    reuse_not_revoking,
    revocation_race,
    self_inflicted_logout,
    server_error,
    sibling_invalidation,
    stale_reuse_accepted,
    threshold,
    token_uniqueness,
)
from stress.checkers.base import CheckContext, Checker, CheckResult
from stress.history import Operation

__all__ = ["CHECKERS", "run_checkers"]

logger = logging.getLogger(__name__)

CHECKERS: dict[str, Checker] = {
    fork.CHECKER_ID: fork.check,
    self_inflicted_logout.CHECKER_ID: self_inflicted_logout.check,
    dead_successor.CHECKER_ID: dead_successor.check,
    retry_later_logout.CHECKER_ID: retry_later_logout.check,
    sibling_invalidation.CHECKER_ID: sibling_invalidation.check,
    lost_response_retry.CHECKER_ID: lost_response_retry.check,
    stale_reuse_accepted.CHECKER_ID: stale_reuse_accepted.check,
    reuse_not_revoking.CHECKER_ID: reuse_not_revoking.check,
    revocation_race.CHECKER_ID: revocation_race.check,
    token_uniqueness.CHECKER_ID: token_uniqueness.check,
    jwt_claims.CHECKER_ID: jwt_claims.check,
    server_error.CHECKER_ID: server_error.check,
    threshold.CHECKER_ID: threshold.check,
}


def run_checkers(
    ops: Sequence[Operation], ctx: CheckContext, only: Iterable[str] | None = None
) -> list[CheckResult]:
    """Run the selected checkers (all by default, in ``CHECKERS`` order) without letting one
    crash the rest.

    Raises ``ValueError`` naming the known ids when ``only`` contains an unknown one.
    """
    selected = list(CHECKERS) if only is None else list(only)
    unknown = [name for name in selected if name not in CHECKERS]
    if unknown:
        raise ValueError(f"unknown checker(s) {', '.join(unknown)}; known: {', '.join(CHECKERS)}")
    wanted = set(selected)
    results: list[CheckResult] = []
    for name, checker in CHECKERS.items():
        if name not in wanted:
            continue
        try:
            results.append(checker(ops, ctx))
        except Exception as exc:
            logger.exception("checker crashed", extra={"checker": name, "ops": len(ops)})
            note = f"checker crashed: {type(exc).__name__}: {exc}"
            results.append(CheckResult(checker=name, verdict="unknown", notes=(note,)))
    return results

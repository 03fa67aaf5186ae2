"""The checker registry, by stable id, and the safe way to run the checkers.

Each checker is one module: its ``CHECKER_ID``, its class (``KIND``: invariant or
policy-dependent), what its findings mean for the user (``MEANING``) and its rule, ``check``, a
pure function of the paired operations and the declared policy (see ``stress.checkers.base``).
A new checker is that module and one line in ``CHECKERS``; every report takes the meaning from
here. ``run_checkers`` is Jepsen's ``check-safe``: a checker that raises yields ``unknown`` with
the exception in its notes, is logged with its traceback, and never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

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
from stress.checkers.base import CheckContext, CheckerClass, CheckerSpec, CheckResult
from stress.history import Operation

__all__ = ["CHECKERS", "CheckerModule", "run_checkers"]

logger = logging.getLogger(__name__)


class CheckerModule(Protocol):
    """What a checker module defines."""

    CHECKER_ID: str
    KIND: CheckerClass
    MEANING: str

    def check(self, ops: Sequence[Operation], ctx: CheckContext) -> CheckResult: ...


def _registry(*modules: CheckerModule) -> dict[str, CheckerSpec]:
    specs = (CheckerSpec(m.CHECKER_ID, m.check, m.KIND, m.MEANING) for m in modules)
    return {spec.id: spec for spec in specs}


# In the order reports list them: the invariants first.
CHECKERS: dict[str, CheckerSpec] = _registry(
    fork,
    self_inflicted_logout,
    dead_successor,
    retry_later_logout,
    sibling_invalidation,
    lost_response_retry,
    stale_reuse_accepted,
    reuse_not_revoking,
    revocation_race,
    token_uniqueness,
    jwt_claims,
    server_error,
    threshold,
)


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
    for name, spec in CHECKERS.items():
        if name not in wanted:
            continue
        try:
            results.append(spec.check(ops, ctx))
        except Exception as exc:
            logger.exception("checker crashed", extra={"checker": name, "ops": len(ops)})
            note = f"checker crashed: {type(exc).__name__}: {exc}"
            results.append(CheckResult(checker=name, verdict="unknown", notes=(note,)))
    return results

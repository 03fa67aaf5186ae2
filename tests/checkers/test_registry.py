"""The checker registry and ``run_checkers``: stable ids, order, and crash isolation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import pytest

import stress.checkers as checkers
from stress.checkers.base import CheckContext, CheckResult
from stress.history import Operation
from stress.policy import INVARIANTS

from .histories import History, ctx

IDS = [
    "fork",
    "self-inflicted-logout",
    "dead-successor",
    "retry-later-logout",
    "sibling-invalidation",
    "lost-response-retry",
    "stale-reuse-accepted",
    "reuse-not-revoking",
    "revocation-race",
    "token-uniqueness",
    "jwt-claims",
    "server-error",
    "threshold",
]


def _clean() -> list[Operation]:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    h.probe(p=2, presented="B", returned="C", t=(10, 11))
    return h.operations()


def test_ids_are_stable_and_ordered() -> None:
    assert list(checkers.CHECKERS) == IDS
    assert [spec.id for spec in checkers.CHECKERS.values()] == IDS


def test_every_checker_says_what_its_findings_mean() -> None:
    for spec in checkers.CHECKERS.values():
        assert spec.meaning.endswith("."), spec.id
        assert len(spec.meaning.split()) >= 30, spec.id


def test_the_invariants_are_the_ones_a_policy_may_only_relax() -> None:
    invariants = [spec.id for spec in checkers.CHECKERS.values() if spec.kind == "invariant"]
    assert invariants == list(INVARIANTS)


@pytest.mark.parametrize("policy", ["strict", "idempotent", "overlap", "none"])
def test_every_checker_passes_a_clean_history(policy: str) -> None:
    results = checkers.run_checkers(_clean(), ctx(policy, 100))  # type: ignore[arg-type]
    assert [r.checker for r in results] == IDS
    assert {r.checker: r.verdict for r in results} == dict.fromkeys(IDS, "pass")


def test_every_checker_accepts_an_empty_history() -> None:
    results = checkers.run_checkers([], ctx("strict"))
    assert [r.verdict for r in results] == ["pass"] * len(IDS)


def test_only_selects_in_registry_order_and_rejects_unknown_ids() -> None:
    results = checkers.run_checkers(_clean(), ctx("strict"), only=["threshold", "fork"])
    assert [r.checker for r in results] == ["fork", "threshold"]
    with pytest.raises(ValueError, match="unknown checker\\(s\\) forks"):
        checkers.run_checkers(_clean(), ctx("strict"), only=["forks"])


def test_crashing_checker_is_unknown_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(ops: Sequence[Operation], context: CheckContext) -> CheckResult:
        raise RuntimeError("lineage cycle")

    monkeypatch.setitem(checkers.CHECKERS, "fork", replace(checkers.CHECKERS["fork"], check=boom))
    with caplog.at_level(logging.ERROR, logger="stress.checkers"):
        results = checkers.run_checkers(_clean(), ctx("strict"))
    assert results[0].verdict == "unknown"
    assert results[0].notes == ("checker crashed: RuntimeError: lineage cycle",)
    assert [r.verdict for r in results[1:]] == ["pass"] * (len(IDS) - 1)
    assert caplog.records[0].exc_info is not None
    assert caplog.records[0].checker == "fork"  # type: ignore[attr-defined]

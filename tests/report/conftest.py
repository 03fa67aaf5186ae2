"""Hand-built histories and check results for the report tests.

The checkers are written elsewhere; these tests build :class:`CheckResult` values by hand so
that the renderers are tested against known findings: a multi-tab burst on one token where two
refreshes both succeeded (a fork), a clean run, and an interrupted run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stress.checkers.base import Blame, CheckResult, Finding
from stress.fingerprint import Fingerprinter
from stress.history import Header, History, Op, Operation
from stress.policy import Policy
from stress.report import RequestShape, RunReport, build_report

FP = Fingerprinter(key=b"k" * 32)
# Long random-looking tokens: the tests grep every output for them.
TOKENS = {
    "A": "rt_A_9f8e7d6c5b4a39281706f5e4d3c2b1a0ZZYYXXWWVV",
    "B": "rt_B_0a1b2c3d4e5f60718293a4b5c6d7e8f9QQRRSSTTUU",
    "C": "rt_C_1122334455667788990011223344556677889900aa",
    "ACC1": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyMSJ9.c2lnbmF0dXJlMQ",
    "ACC2": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyMiJ9.c2lnbmF0dXJlMg",
}
A, B, C = FP(TOKENS["A"]), FP(TOKENS["B"]), FP(TOKENS["C"])
ACC1, ACC2 = FP(TOKENS["ACC1"]), FP(TOKENS["ACC2"])
T0 = 5_000_000_000
MS = 1_000_000

CHECKERS = ("fork", "sibling-invalidation", "token-uniqueness", "server-error")
REPRODUCE = ["auth-stress run scenarios/multi_tab.toml --target http://127.0.0.1:8000 --seed 7"]


def burst_history() -> list[Operation]:
    """p0 logs in; p1, p2, p3 refresh A in one burst: B and C both issued, p3 rejected."""
    history = History(
        Header(
            scenario="multi-tab",
            policy=Policy(),
            targets=["http://127.0.0.1:8000"],
            seed=7,
            started_unix=1_700_000_000.0,
        )
    )
    records: list[dict[str, object]] = [
        {"type": "invoke", "process": 0, "kind": "login", "time_ns": T0},
        {"type": "ok", "process": 0, "kind": "login", "time_ns": T0 + 8 * MS, "returned": A,
         "access": ACC1, "status": 200},
        {"type": "invoke", "process": 1, "kind": "refresh", "time_ns": T0 + 10 * MS,
         "presented": A, "burst": 1, "engine": "barrier"},
        {"type": "invoke", "process": 2, "kind": "refresh", "time_ns": T0 + 10 * MS + 300_000,
         "presented": A, "burst": 1, "engine": "barrier"},
        {"type": "invoke", "process": 3, "kind": "refresh", "time_ns": T0 + 10 * MS + 500_000,
         "presented": A, "burst": 1, "engine": "barrier"},
        {"type": "ok", "process": 1, "kind": "refresh", "time_ns": T0 + 14 * MS, "returned": B,
         "access": ACC2, "status": 200, "arrival_ns": 100},
        {"type": "ok", "process": 2, "kind": "refresh", "time_ns": T0 + 15 * MS, "returned": C,
         "status": 200, "arrival_ns": 150},
        {"type": "fail", "process": 3, "kind": "refresh", "time_ns": T0 + 16 * MS,
         "status": 400, "error": "invalid_grant", "arrival_ns": 400},
    ]  # fmt: skip
    for record in records:
        history.append(Op(index=history.next_index(), session=0, **record))  # type: ignore[arg-type]
    return history.operations()


def fork_finding() -> Finding:
    """The fork of the burst, blamed as the fork checker blames one: the second successor."""
    a, b, c = A[:8], B[:8], C[:8]
    return Finding(
        checker="fork",
        severity="error",
        message=f"{a} has 2 successors: {b} (op 2), {c} (op 3)",
        blame=(
            Blame(0, f"issued {a}"),
            Blame(2, f"{a} -> {b}, successor 1 of 2"),
            Blame(3, f"{a} -> {c}, successor 2 of 2", key=True),
        ),
    )


def make_report(results: list[CheckResult], **overrides: object) -> RunReport:
    args: dict[str, object] = {
        "scenario": "multi-tab",
        "scenario_path": "scenarios/multi_tab.toml",
        "targets": ["http://127.0.0.1:8000"],
        "policy": Policy(),
        "results": results,
        "operations": burst_history(),
        "wall_seconds": 1.25,
        "started_unix": 1_700_000_000.0,
        "reproduce": REPRODUCE,
        "describe": describe_refresh,
    }
    args.update(overrides)
    return build_report(**args)  # type: ignore[arg-type]


def describe_refresh(op: Operation) -> RequestShape:
    """An RFC 6749 refresh request with the token as a placeholder."""
    return (
        "POST",
        "http://127.0.0.1:8000/token",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic Y2xpZW50OnNlY3JldA==",
        },
        "grant_type=refresh_token&refresh_token=$REFRESH_TOKEN",
    )


def passing_results() -> list[CheckResult]:
    return [CheckResult(checker=c, verdict="pass") for c in CHECKERS]


@pytest.fixture
def failing_report() -> RunReport:
    results = passing_results()
    results[0] = CheckResult(checker="fork", verdict="fail", findings=(fork_finding(),))
    results[2] = CheckResult(checker="token-uniqueness", verdict="unknown", notes=("crashed",))
    return make_report(results)


@pytest.fixture
def passing_report() -> RunReport:
    return make_report(passing_results())


@pytest.fixture
def inconclusive_report() -> RunReport:
    return make_report(passing_results(), inconclusive_reason="interrupted")


ReportFactory = Callable[..., RunReport]


@pytest.fixture
def report_factory() -> ReportFactory:
    return make_report


@pytest.fixture
def tokens() -> dict[str, str]:
    """The raw tokens behind the fingerprints: must never appear in any output."""
    return dict(TOKENS)


@pytest.fixture
def fps() -> dict[str, str]:
    """Fingerprints by token name."""
    return {name: FP(token) for name, token in TOKENS.items()}


@pytest.fixture
def operations() -> list[Operation]:
    return burst_history()


@pytest.fixture
def fork() -> Finding:
    return fork_finding()

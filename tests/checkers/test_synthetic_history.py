"""Every checker on generated histories shaped like real runs: the exact findings, pinned.

The generator (``benchmarks/synthetic_history.py``) interleaves many sessions, bursts with
winners and losers, retries, timeouts, logouts, final probes and a soak family refreshing
hundreds of times (thousands at benchmark sizes), and seeds bugs of every kind with the
findings each must produce. Analysing such a history as ``auth-stress analyze`` does (load,
pair, every checker, the report) pins what the checkers find on realistic input, so a change
to an algorithm that moves a verdict or a witness fails here; the benchmark
(``benchmarks/analyze.py``) owns the timing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from stress.checkers import CHECKERS
from stress.checkers.lineage import build_lineage
from stress.history import load_history
from stress.pipeline import analyze_history
from stress.report import RunReport


def _load_generator() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "synthetic_history.py"
    spec = importlib.util.spec_from_file_location("synthetic_history", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


synthetic = _load_generator()

POLICIES = ["strict", "idempotent"]
RECORDS = 12_000


def _found(report: RunReport) -> list[tuple[str, str, tuple[int, ...]]]:
    return sorted((f.checker, f.severity, f.witness) for f in report.findings)


@pytest.mark.parametrize("policy", POLICIES)
def test_every_seeded_bug_is_found_and_nothing_else(tmp_path: Path, policy: str) -> None:
    written = synthetic.write_history(
        tmp_path / "history.jsonl", ops=RECORDS, seed=7, policy=policy, violations=2
    )
    assert set(synthetic.VIOLATIONS[policy]) <= {e.checker for e in written.expected}
    report = analyze_history(written.path)
    assert _found(report) == sorted((e.checker, e.severity, e.witness) for e in written.expected)
    failing = {e.checker for e in written.expected if e.severity == "error"}
    assert {r.checker: r.verdict for r in report.results} == {
        name: "fail" if name in failing else "pass" for name in CHECKERS
    }
    assert report.verdict == "fail"


@pytest.mark.parametrize("policy", POLICIES)
def test_a_history_of_a_correct_target_passes_every_checker(tmp_path: Path, policy: str) -> None:
    path = tmp_path / "history.jsonl"
    written = synthetic.write_history(path, ops=RECORDS, seed=3, policy=policy)
    report = analyze_history(written.path)
    assert {r.verdict for r in report.results} == {"pass"}
    assert report.verdict == "pass"
    # The 503s the target answered (and the client waited out) are warnings, nothing more.
    assert _found(report) == [(e.checker, e.severity, e.witness) for e in written.expected]
    assert {e.checker for e in written.expected} == {"server-error"}


def test_the_histories_hold_a_soak_family_hundreds_of_refreshes_long(tmp_path: Path) -> None:
    """The pins above only guard the long-chain paths if the history really has one."""
    written = synthetic.write_history(tmp_path / "history.jsonl", ops=RECORDS, seed=7)
    lineage = build_lineage(load_history(written.path).operations())
    sizes: dict[str, int] = {}
    for family in lineage.family.values():
        sizes[family] = sizes.get(family, 0) + 1
    assert max(sizes.values()) > 500
    assert len(sizes) > 100

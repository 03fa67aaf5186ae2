"""The --json document: stable keys, round-trip, fingerprints only, atomic write."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from report.conftest import ReportFactory, passing_results

from stress import __version__
from stress.checkers import CHECKERS
from stress.report import RunReport, report_document, write_json

TOP_LEVEL_KEYS = [
    "verdict",
    "inconclusive_reason",
    "notes",
    "findings",
    "checkers",
    "checker_notes",
    "checker_info",
    "stats",
    "scenario",
    "scenario_path",
    "targets",
    "policy",
    "engine",
    "reproduce",
    "started_unix",
    "wall_seconds",
    "tool",
]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _write_and_load(report: RunReport, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "report.json"
    write_json(report, path)
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temp file left
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_failing_report_round_trips(failing_report: RunReport, tmp_path: Path) -> None:
    doc = _write_and_load(failing_report, tmp_path)
    assert doc == report_document(failing_report)
    assert list(doc) == TOP_LEVEL_KEYS
    assert doc["verdict"] == "fail"
    assert doc["policy"] == {
        "rotates": True,
        "grace_seconds": 0.0,
        "replay": "rejected",
        "generations": 0,
        "reuse_revokes": "family",
        "tolerance_seconds": 0.0,
        "refresh_revokes_access": False,
        "use_retires": False,
        "max_replays": 0,
        "relax": [],
    }
    assert doc["checkers"] == {
        "fork": "fail",
        "sibling-invalidation": "pass",
        "token-uniqueness": "unknown",
        "server-error": "pass",
    }
    assert doc["tool"] == {"name": "auth-stress", "version": __version__}
    (finding,) = doc["findings"]
    assert [finding[k] for k in ("number", "checker", "severity", "key")] == [1, "fork", "error", 3]
    assert [w["index"] for w in finding["witness"]] == [0, 2, 3]
    assert finding["found_by"] == sorted({w["step"] for w in finding["witness"] if w["step"]})
    assert [w["send_ms"] for w in finding["witness"]] == [0.0, 10.0, 10.3]
    assert [w["key"] for w in finding["witness"]] == [False, False, True]
    assert finding["witness"][2]["why"].endswith("successor 2 of 2")
    assert list(finding["witness"][0]) == [
        "index", "process", "session", "kind", "step", "presented", "outcome", "status", "returned",
        "error", "send_ms", "recv_ms", "why", "key",
    ]  # fmt: skip
    # What a checker's findings mean is said once per checker, not per finding.
    assert list(doc["checker_info"]) == list(doc["checkers"])
    assert doc["checker_info"]["fork"] == {
        "class": "invariant",
        "meaning": CHECKERS["fork"].meaning,
    }
    assert doc["checker_info"]["server-error"]["class"] == "policy-dependent"
    assert "meaning" not in finding
    assert doc["engine"]["bursts"][0]["release_spread_ms"] == 0.5
    assert doc["stats"]["kinds"]["refresh"]["fail"] == 1


def test_no_token_looking_strings(
    failing_report: RunReport, tmp_path: Path, tokens: dict[str, str], fps: dict[str, str]
) -> None:
    doc = _write_and_load(failing_report, tmp_path)
    text = json.dumps(doc)
    assert not any(token in text for token in tokens.values())
    known = set(fps.values())
    for s in _strings(doc):
        for word in re.findall(r"[A-Za-z0-9_\-+/=.]{16,}", s):
            if re.fullmatch(r"[0-9a-f]{16}", word):
                assert word in known
            else:
                # Only paths, URLs and prose may be long; nothing base64- or JWT-like.
                assert re.fullmatch(r"[a-z0-9_\-/.:=&]+", word), word


def test_passing_and_inconclusive(
    passing_report: RunReport, inconclusive_report: RunReport, tmp_path: Path
) -> None:
    assert report_document(passing_report)["findings"] == []
    assert report_document(passing_report)["verdict"] == "pass"
    doc = _write_and_load(inconclusive_report, tmp_path)
    assert (doc["verdict"], doc["inconclusive_reason"]) == ("unknown", "interrupted")


def test_write_replaces_existing_file(passing_report: RunReport, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old")
    write_json(passing_report, path)
    assert json.loads(path.read_text())["verdict"] == "pass"


def test_an_inconclusive_run_shows_no_checker_as_a_pass(report_factory: ReportFactory) -> None:
    """CI dashboards read these values: a run that proved nothing never reports a pass."""
    unreachable = report_factory(
        passing_results(), operations=[], inconclusive_reason="target unreachable"
    )
    assert set(report_document(unreachable)["checkers"].values()) == {"not run"}
    interrupted = report_factory(passing_results(), inconclusive_reason="interrupted")
    assert set(report_document(interrupted)["checkers"].values()) == {"partial"}

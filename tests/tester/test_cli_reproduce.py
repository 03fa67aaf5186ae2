"""Beyond one run, through the real CLI against real reference servers: ``run --repeat``,
``shrink`` and ``replay``.

No test asserts a rate. A correct server never fails, whatever the interleaving; the naive one
runs with a race window far wider than a burst (``WIDE_WINDOW``), so every concurrent burst of
it forks and what shrink keeps or replay reproduces does not depend on the machine's load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.servers import ServerFactory

from stress.launcher import free_port
from stress.pipeline import analyze_history
from stress.scenario import RefreshStep, load_scenario
from tester.conftest import SCENARIOS, CliRunner

pytestmark = pytest.mark.integration

MULTI_TAB = str(SCENARIOS / "multi-tab-burst.toml")
# The naive server sleeps between its read and its write, far longer than a burst's spread, so
# every concurrent burst forks: what the search keeps and what a replay reproduces is then
# decided, not drawn (the power of small bursts against a fast server is a benchmark's subject).
WIDE_WINDOW = ("--inject-delay-ms", "50")


def _naive(server_factory: ServerFactory) -> str:
    return server_factory("naive", grace=5.0, extra_args=WIDE_WINDOW).url


def _json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_repeat_tallies_each_class_over_runs_judged_from_their_histories(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    result = cli("run", MULTI_TAB, "--target", _naive(server_factory),
                 "--repeat", "3")  # fmt: skip
    assert result.code == 1, result.stdout + result.stderr
    doc = result.report
    assert doc is not None
    assert (doc["kind"], doc["verdict"], doc["runs_requested"], doc["runs_made"]) == (
        "repetition", "fail", 3, 3,
    )  # fmt: skip
    assert [run["history"] for run in doc["runs"]] == [
        str(tmp_path / f"history-0{n}.jsonl") for n in (1, 2, 3)
    ]
    assert doc["classes"], "a naive server fails somewhere in three runs"
    for tally in doc["classes"]:
        runs_with = [r["run"] for r in doc["runs"] if tally["checker"] in r["findings"]]
        assert tally["reproduced_in"] == runs_with
        assert tally["reproduced"] == len(runs_with)
        assert tally["runs"] == 3
        low, high = tally["ci95"]
        assert low <= tally["rate"] <= high
        assert tally["meaning"]
    # Each run's verdict is its history's: analyze reaches it again offline.
    for run in doc["runs"]:
        report = analyze_history(Path(run["history"]))
        assert report.verdict == run["verdict"]
        counts: dict[str, int] = {}
        for finding in report.findings:
            counts[finding.checker] = counts.get(finding.checker, 0) + 1
        assert counts == run["findings"]
    assert "finding class" in result.stdout
    assert "--repeat 3" in result.stdout
    assert "run 3/3: FAIL" in result.stderr


def test_repeat_against_a_correct_server_passes(
    cli: CliRunner, server_factory: ServerFactory
) -> None:
    result = cli("run", MULTI_TAB, "--target", server_factory("atomic", grace=5.0).url,
                 "--repeat", "2")  # fmt: skip
    assert result.code == 0, result.stdout + result.stderr
    assert result.report is not None
    assert (result.report["verdict"], result.report["classes"]) == ("pass", [])
    assert "no finding in any of the 2 runs" in result.stdout


def test_repeat_against_nothing_is_inconclusive(cli: CliRunner) -> None:
    result = cli("run", MULTI_TAB, "--target", f"http://127.0.0.1:{free_port()}", "--repeat", "2")
    assert result.code == 3, result.stdout + result.stderr
    assert result.report is not None
    assert [r["verdict"] for r in result.report["runs"]] == ["unknown", "unknown"]
    assert all("unreachable" in r["inconclusive_reason"] for r in result.report["runs"])
    junit = cli("run", MULTI_TAB, "--repeat", "2", "--junit", "x.xml")
    assert junit.code == 2
    assert "--junit and --html describe one run" in junit.stderr


def test_shrink_reduces_the_multi_tab_burst_to_one_session_and_a_small_burst(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    url = _naive(server_factory)
    out, doc_path = tmp_path / "min.toml", tmp_path / "shrink.json"
    result = cli("shrink", MULTI_TAB, "--target", url, "--reruns", "5", "-o", str(out),
                 "--json", str(doc_path), timeout=300)  # fmt: skip
    assert result.code == 1, result.stdout + result.stderr
    shrunk = load_scenario(out)
    assert shrunk.run.sessions == 1
    refreshes = [step for step in shrunk.steps if isinstance(step, RefreshStep)]
    assert len(refreshes) == 1, shrunk.steps
    assert refreshes[0].parallel in (2, 3), refreshes[0]
    doc = _json(doc_path)
    assert (doc["kind"], doc["checker"], doc["stop"]) == ("shrink", "fork", "minimal")
    assert 1 <= doc["reproduction"]["reproduced"] <= doc["reproduction"]["runs"] == 5
    assert doc["attempts"][0]["change"] == "sessions 16 -> 1"
    assert any(not attempt["kept"] for attempt in doc["attempts"])
    assert "candidate 1: sessions 16 -> 1: reproduced fork" in result.stderr
    rerun = f"auth-stress run {out} --target {url}/ --repeat 5"
    assert f"rerun with: {rerun}" in result.stdout
    assert f"# Rerun: {rerun}" in out.read_text()
    assert cli("check", str(out)).code == 0


def test_shrink_says_when_nothing_fails(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    out, doc_path = tmp_path / "min.toml", tmp_path / "shrink.json"
    result = cli("shrink", MULTI_TAB, "--target", server_factory("atomic", grace=5.0).url,
                 "--reruns", "2", "-o", str(out), "--json", str(doc_path))  # fmt: skip
    assert result.code == 0, result.stdout + result.stderr
    assert "nothing to shrink: no violation in 2 runs" in result.stdout
    assert not out.exists()
    doc = _json(doc_path)
    assert (doc["checker"], doc["stop"], doc["runs"]) == (None, "nothing-fails", 2)


def test_shrink_stops_at_its_run_bound_and_keeps_what_it_has(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    out, doc_path = tmp_path / "min.toml", tmp_path / "shrink.json"
    result = cli("shrink", MULTI_TAB, "--target", _naive(server_factory),
                 "--reruns", "2", "--max-runs", "3", "--checker", "fork", "-o", str(out),
                 "--json", str(doc_path))  # fmt: skip
    assert result.code == 1, result.stdout + result.stderr
    doc = _json(doc_path)
    assert (doc["stop"], doc["runs"], len(doc["attempts"])) == ("max-runs", 3, 1)
    assert "stopped at --max-runs" in result.stdout
    assert load_scenario(out).run.sessions in (1, 16)
    bogus = cli("shrink", MULTI_TAB, "--checker", "no-such-checker")
    assert bogus.code == 2
    assert "--checker 'no-such-checker': expected one of fork" in bogus.stderr


def test_replay_reproduces_a_fork_on_naive_and_not_on_atomic(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    naive = _naive(server_factory)
    run = cli("run", MULTI_TAB, "--target", naive)
    assert run.code == 1, run.stdout + run.stderr
    number = run.findings("fork")[0]["number"]
    history = str(tmp_path / "history.jsonl")
    doc_path = tmp_path / "replay.json"
    again = cli("replay", history, "--finding", str(number), "--target", naive,
                "--times", "20", "--json", str(doc_path))  # fmt: skip
    assert again.code == 1, again.stdout + again.stderr
    doc = _json(doc_path)
    assert doc["finding"]["checker"] == "fork"
    assert doc["reproduction"]["runs"] == 20
    assert doc["reproduction"]["reproduced"] >= 1
    assert [op["kind"] for op in doc["plan"]["setup"]] == ["login"]
    (burst,) = doc["plan"]["timed"]
    assert len(burst) >= 2
    assert {op["source"] for op in burst} == {doc["plan"]["setup"][0]["index"]}
    for replay in doc["replays"]:
        replayed = analyze_history(tmp_path / replay["history"])
        assert replayed.verdict == replay["verdict"]
        assert replay["reproduced"] == any(f.checker == "fork" for f in replayed.findings)
    assert "setup  op" in again.stderr
    assert f"finding {number} (fork) reproduced" in again.stdout

    atomic = server_factory("atomic", grace=5.0).url
    fixed = cli("replay", history, "--finding", str(number), "--target", atomic,
                "--times", "5", "--json", str(doc_path))  # fmt: skip
    assert fixed.code == 0, fixed.stdout + fixed.stderr
    doc = _json(doc_path)
    assert doc["reproduction"]["reproduced"] == 0
    assert [r["verdict"] for r in doc["replays"]] == ["pass"] * 5

    wrong = cli("replay", history, "--finding", "100000", "--target", atomic)
    assert wrong.code == 2
    assert "--finding 100000:" in wrong.stderr

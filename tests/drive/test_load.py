"""Sustained load (stress.load): the arrival schedule on its own, then real runs via the CLI.

The integration tests start ``python -m stress run`` against a real reference server (atomic
strategy, real Redis) and read the streamed history: load ops must arrive at roughly the
requested rate, a correct server must pass, and an overload must be reported, not queued.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.servers import ServerFactory

from stress.drive.load import ArrivalSchedule, LoadWindow
from stress.scenario import LoadStep

ROOT = Path(__file__).resolve().parents[2]


SCENARIO = """
name = "load"
[target]
kind = "oauth2"
client_id = "demo-client"
resource = "/api/me"
[auth]
password = "password"
[policy]
kind = "idempotent"
grace_seconds = 5
[run]
sessions = {sessions}
op_timeout_seconds = 5
max_seconds = 20
max_ops = {max_ops}
[[steps]]
op = "login"
[[steps]]
op = "load"
duration_seconds = {duration}
{model}
"""


# -- the schedule, without a network -------------------------------------------------------


def test_schedule_is_seeded_and_near_its_rate() -> None:
    first = ArrivalSchedule(200.0, ["refresh", "use"], seed=7)
    second = ArrivalSchedule(200.0, ["refresh", "use"], seed=7)
    arrivals = [first.next() for _ in range(2000)]
    assert arrivals == [second.next() for _ in range(2000)]
    times = [at for at, _ in arrivals]
    assert times == sorted(times)
    assert 2000 / times[-1] == pytest.approx(200.0, rel=0.1)
    kinds = [kind for _, kind in arrivals]
    assert 0.4 < kinds.count("refresh") / len(kinds) < 0.6
    assert ArrivalSchedule(200.0, ["use"], seed=7).next()[1] == "use"


def test_window_counts_arrivals_nobody_was_idle_for() -> None:
    step = LoadStep(duration_seconds=1.0, rate=100.0)
    window = LoadWindow(step=step, start=0.0, schedule=ArrivalSchedule(100.0, ["refresh"], 1))
    first = window.claim(0.0)
    assert first is not None
    assert window.served == 1
    assert window.missed == 0
    # The session was busy for half the window: every arrival in between was missed.
    late = window.claim(0.5)
    assert late is not None
    assert late[0] >= 0.5
    assert window.missed > 20
    assert window.close()
    assert not window.close()
    assert window.claim(0.9) is None
    assert window.arrivals == window.served + window.missed
    assert 60 < window.arrivals < 140  # ~100 arrivals in one second at 100/s


# -- real runs through the CLI -------------------------------------------------------------


@dataclass
class Run:
    code: int
    stderr: str
    report: dict[str, Any]
    ops: list[dict[str, Any]]

    def load_invokes(self) -> list[dict[str, Any]]:
        return [op for op in self.ops if op["type"] == "invoke" and op.get("step") == "load"]


def _run(
    tmp_path: Path, url: str, *, sessions: int, duration: float, model: str, max_ops: int = 5000
) -> Run:
    scenario = tmp_path / "load.toml"
    scenario.write_text(
        SCENARIO.format(sessions=sessions, duration=duration, model=model, max_ops=max_ops)
    )
    report, history = tmp_path / "report.json", tmp_path / "history.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "stress", "run", str(scenario), "--target", url,
         "--json", str(report), "--no-progress", "--history", str(history)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert report.exists(), proc.stdout + proc.stderr
    # The first line is the header and the last the run-end record; ops are in between.
    records = [json.loads(line) for line in history.read_text().splitlines()[1:]]
    ops = [record for record in records if "record" not in record]
    return Run(proc.returncode, proc.stderr, json.loads(report.read_text()), ops)


@pytest.mark.integration
def test_open_model_holds_the_rate_and_passes(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    server = server_factory("atomic", grace=5.0)
    rate, duration = 40.0, 2.5
    run = _run(tmp_path, server.url, sessions=12, duration=duration, model=f"rate = {rate}")
    assert run.code == 0, run.stderr
    assert run.report["verdict"] == "pass"
    invokes = run.load_invokes()
    assert 0.7 * rate * duration <= len(invokes) <= 1.3 * rate * duration, len(invokes)
    times = sorted(op["time_ns"] for op in invokes)
    assert (times[-1] - times[0]) / 1e9 <= duration + 0.5
    assert {op["kind"] for op in invokes} == {"refresh", "use"}
    assert len({op["session"] for op in invokes}) > 1  # arrivals spread over idle sessions
    assert "arrivals missed" not in run.stderr


@pytest.mark.integration
def test_closed_model_loops_with_think_time(tmp_path: Path, server_factory: ServerFactory) -> None:
    server = server_factory("atomic", grace=5.0)
    run = _run(tmp_path, server.url, sessions=2, duration=1.5, model="think_seconds = 0.05")
    assert run.code == 0, run.stderr
    assert run.report["verdict"] == "pass"
    for session in (0, 1):
        ops = [op for op in run.load_invokes() if op["session"] == session]
        # At most one op per think time (plus latency), and the loop really looped.
        assert 5 <= len(ops) <= 1.5 / 0.05 + 1, len(ops)
    ok_refreshes = [op for op in run.ops if op["type"] == "ok" and op["kind"] == "refresh"]
    assert ok_refreshes  # tokens rotated under load


@pytest.mark.integration
def test_overload_counts_missed_arrivals_and_stops_at_the_op_bound(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    server = server_factory("atomic", grace=5.0)
    # One session cannot do 5000 ops/s: arrivals are missed, not queued; max_ops ends the run.
    run = _run(tmp_path, server.url, sessions=1, duration=1.0, model="rate = 5000", max_ops=150)
    assert run.code == 0, run.stderr
    assert len([op for op in run.ops if op["type"] == "invoke" and op["kind"] != "probe"]) == 150
    warnings = [json.loads(line) for line in run.stderr.splitlines() if "arrivals missed" in line]
    assert len(warnings) == 1, run.stderr
    assert warnings[0]["missed"] > warnings[0]["served"] > 0
    assert warnings[0]["arrivals"] == warnings[0]["missed"] + warnings[0]["served"]
    # The report carries it too, not only the log.
    (note,) = run.report["notes"]
    assert f"{warnings[0]['missed']} of {warnings[0]['arrivals']} arrivals" in note

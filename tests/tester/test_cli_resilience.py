"""Nothing is lost: an interrupted run or a dying target still leaves a history and a report."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stress.history import load_history
from stress.launcher import ServerProcess

pytestmark = pytest.mark.integration

LONG = """
name = "long"
[target]
kind = "oauth2"
client_id = "demo-client"
[auth]
password = "password"
[policy]
kind = "idempotent"
grace_seconds = 2
[run]
sessions = 3
rounds = 400
max_seconds = 60
[[steps]]
op = "login"
[[steps]]
op = "refresh"
parallel = 2
[[steps]]
op = "sleep"
seconds = 0.05
"""


def start_cli(tmp_path: Path, target: str) -> tuple[subprocess.Popen[str], Path, Path]:
    scenario = tmp_path / "long.toml"
    scenario.write_text(LONG)
    history, report = tmp_path / "history.jsonl", tmp_path / "report.json"
    argv = [sys.executable, "-m", "stress", "run", str(scenario), "--target", target,
            "--history", str(history), "--json", str(report), "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, history, report


def wait_for_ops(history: Path, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if history.exists() and len(history.read_text().splitlines()) > count:
            return
        time.sleep(0.1)
    pytest.fail(f"the run recorded fewer than {count} ops in {timeout}s")


def assert_closed_history(history: Path) -> None:
    recorded = load_history(history)
    assert recorded.pending() == []  # every invoke has its completion, info if unknown
    assert len(recorded) > 10


def test_interrupted_run_keeps_history_and_report(tmp_path: Path, redis_url: str) -> None:
    with ServerProcess("atomic", redis_url=redis_url, grace=2.0) as server:
        proc, history, report = start_cli(tmp_path, server.url)
        wait_for_ops(history, 30)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 3, stdout + stderr
    document = json.loads(report.read_text())
    assert document["verdict"] == "unknown"
    assert document["inconclusive_reason"] == "interrupted"
    assert "Traceback" not in stderr
    assert_closed_history(history)


def test_target_dying_mid_run_is_inconclusive(tmp_path: Path, redis_url: str) -> None:
    server = ServerProcess("atomic", redis_url=redis_url, grace=2.0)
    server.start()
    try:
        proc, history, report = start_cli(tmp_path, server.url)
        wait_for_ops(history, 30)
    finally:
        server.stop()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stdout + stderr
    document = json.loads(report.read_text())
    assert document["verdict"] == "unknown"
    assert document["inconclusive_reason"].startswith("target unreachable")
    assert "Traceback" not in stderr
    assert_closed_history(history)

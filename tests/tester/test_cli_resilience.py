"""Nothing is lost: an interrupted run or a dying target still leaves a history and a report."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import termios
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


def start_cli(
    tmp_path: Path, *targets: str, text: str = LONG
) -> tuple[subprocess.Popen[str], Path, Path]:
    scenario = tmp_path / "long.toml"
    scenario.write_text(text)
    history, report = tmp_path / "history.jsonl", tmp_path / "report.json"
    argv = [sys.executable, "-m", "stress", "run", str(scenario), "--history", str(history),
            "--json", str(report), "--no-progress"]  # fmt: skip
    for target in targets:
        argv += ["--target", target]
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
    assert recorded.open_invokes() == []  # every invoke has its completion, info if unknown
    assert len(recorded) > 10


# Ctrl-C; a kill, a CI runner's cancel; the terminal the run was started from closing.
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_interrupted_run_keeps_history_and_report(
    tmp_path: Path, redis_url: str, signum: int
) -> None:
    with ServerProcess("atomic", redis_url=redis_url, grace=2.0) as server:
        proc, history, report = start_cli(tmp_path, server.url)
        wait_for_ops(history, 30)
        proc.send_signal(signum)
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


# An error-rate limit that the requests a dead target refuses would break.
STRICT_ERRORS = (
    LONG.replace("rounds = 400", "rounds = 60")
    + """
[thresholds.refresh]
max_error_rate = 0.01
"""
)


def test_a_dead_target_is_inconclusive_not_an_error_rate_failure(
    tmp_path: Path, redis_url: str
) -> None:
    server = ServerProcess("atomic", redis_url=redis_url, grace=2.0)
    server.start()
    try:
        proc, history, report = start_cli(tmp_path, server.url, text=STRICT_ERRORS)
        wait_for_ops(history, 30)
    finally:
        server.stop()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stdout + stderr
    document = json.loads(report.read_text())
    # The error rate did not fail on the dead target's refusals; a cut-short run proves no pass.
    assert (document["verdict"], document["checkers"]["threshold"]) == ("unknown", "partial")
    assert "stopped answering" in " ".join(document["notes"])


# Long enough that the run is still going when the doomed replica has been stopped.
LONGER_STRICT = STRICT_ERRORS.replace("rounds = 60", "rounds = 200").replace(
    "max_seconds = 60", "max_seconds = 8"
)


def test_one_replica_dying_leaves_the_survivor_tested(tmp_path: Path, redis_url: str) -> None:
    doomed = ServerProcess("atomic", redis_url=redis_url, grace=2.0)
    with ServerProcess("atomic", redis_url=redis_url, grace=2.0) as survivor:
        doomed.start()
        try:
            proc, history, report = start_cli(tmp_path, doomed.url, survivor.url,
                                              text=LONGER_STRICT)  # fmt: skip
            wait_for_ops(history, 30)
        finally:
            doomed.stop()
        died = len(history.read_text().splitlines())
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stdout + stderr
    document = json.loads(report.read_text())
    assert document["verdict"] == "unknown"
    assert (
        document["inconclusive_reason"] == f"target {doomed.url} stopped answering during the run"
    )
    [note] = [n for n in document["notes"] if "stopped answering" in n]
    assert note.startswith(f"target {doomed.url} stopped answering")
    assert "the others" in note
    later = load_history(history).ops[died:]
    to_survivor = [op for op in later if op.type == "invoke" and op.target == survivor.url]
    assert len(to_survivor) > 50  # the run went on against the replica still alive
    assert document["checkers"]["threshold"] == "partial"


def test_a_run_whose_terminal_closes_keeps_history_and_report(
    tmp_path: Path, redis_url: str
) -> None:
    """The run's terminal is a real pty that hangs up mid-run, as a closed terminal window or a
    dropped ssh session does: the kernel sends SIGHUP, and every later write to it fails (EIO),
    the progress bar's included. The run stops, and its history and report are written."""
    scenario = tmp_path / "long.toml"
    history, report = tmp_path / "history.jsonl", tmp_path / "report.json"
    with ServerProcess("atomic", redis_url=redis_url, grace=2.0) as server:
        scenario.write_text(LONG)
        master, slave = os.openpty()
        argv = [sys.executable, "-m", "stress", "run", str(scenario), "--target", server.url,
                "--history", str(history), "--json", str(report)]  # fmt: skip
        proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            preexec_fn=_take_the_terminal,
        )  # fmt: skip
        os.close(slave)
        try:
            deadline = time.monotonic() + 30
            while not (history.exists() and len(history.read_text().splitlines()) > 30):
                assert time.monotonic() < deadline, "the run recorded too little in 30 s"
                if select.select([master], [], [], 0.1)[0]:
                    os.read(master, 65536)  # the progress bar's output, drained
        finally:
            os.close(master)  # the terminal hangs up
        proc.wait(timeout=30)
    assert proc.returncode == 3
    document = json.loads(report.read_text())
    assert (document["verdict"], document["inconclusive_reason"]) == ("unknown", "interrupted")
    assert_closed_history(history)


def _take_the_terminal() -> None:
    """In the child: make the pty on stdin its controlling terminal (it leads a new session)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)

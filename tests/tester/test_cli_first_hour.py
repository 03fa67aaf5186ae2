"""A user's first hour: every mistake gets exit 2 and one line, every report asked for is
written whatever ends the run, and every signal stops every process the tool started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from stress.launcher import PARENT_ENV, child_environment, free_port

from .conftest import ROOT, SCENARIOS, CliRunner

pytestmark = pytest.mark.integration

MULTI_TAB = str(SCENARIOS / "multi-tab-burst.toml")


def one_line_error(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_report_folders_are_created_before_the_run(cli: CliRunner, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    out = tmp_path / "reports" / "deep"
    result = cli("run", MULTI_TAB, "--target", closed, "--junit", str(out / "junit.xml"),
                 "--html", str(out / "report.html"))  # fmt: skip
    # An unreachable target is inconclusive, and every report asked for is still written.
    assert result.code == 3, result.stderr
    assert result.report is not None
    assert result.report["verdict"] == "unknown"
    assert (out / "junit.xml").is_file()
    assert (out / "report.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--log-level", "loud"), "--log-level 'loud': expected one of debug, info"),
        (("--engine", "fast"), "--engine 'fast': expected none, barrier"),
    ],
)
def test_bad_options_are_one_line(cli: CliRunner, args: tuple[str, ...], message: str) -> None:
    result = cli("run", MULTI_TAB, *args)
    assert result.code == 2
    assert message in one_line_error(result.stderr)


def test_a_history_folder_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "stress", "run", MULTI_TAB, "--history", str(tmp_path)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "is a folder; give a file name in it" in one_line_error(proc.stderr)


def test_a_custom_target_without_a_login_request_is_invalid(tmp_path: Path) -> None:
    scenario = tmp_path / "custom.toml"
    scenario.write_text(
        'name = "custom"\n[target]\nkind = "json"\nbase_url = "http://127.0.0.1:1"\n'
        '[target.refresh]\npath = "/auth/refresh"\njson = { refreshToken = "{refresh_token}" }\n'
        '[auth]\npassword = "pw"\n[policy]\nkind = "strict"\n[[steps]]\nop = "login"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "stress", "check", str(scenario)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "needs a [target.login] request" in one_line_error(proc.stderr)


def test_check_warns_about_an_unset_secret(tmp_path: Path) -> None:
    text = (SCENARIOS / "multi-tab-burst.toml").read_text()
    scenario = tmp_path / "secret.toml"
    scenario.write_text(text.replace('password = "password"', 'password_env = "NOPE_UNSET"'))
    env = {k: v for k, v in os.environ.items() if k != "NOPE_UNSET"}
    proc = subprocess.run(
        [sys.executable, "-m", "stress", "check", str(scenario)],
        capture_output=True, text=True, timeout=30, check=False, env=env,
    )  # fmt: skip
    assert proc.returncode == 0
    assert "environment variable NOPE_UNSET is not set here" in proc.stderr


def test_a_history_that_cannot_be_written_still_gives_every_report(
    cli: CliRunner, tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    json_path = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "stress", "run", MULTI_TAB, "--target", closed, "--no-progress",
         "--history", "/dev/full", "--json", str(json_path)],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "the history could not be written to /dev/full" in proc.stderr
    document = json.loads(json_path.read_text())
    assert document["verdict"] == "unknown"
    assert any("could not be written" in note for note in document["notes"])


def _marked(mark: str) -> list[str]:
    """Processes whose environment carries ``mark``: everything a command started."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if mark.encode() in Path(f"/proc/{pid}/environ").read_bytes():
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
        except OSError:
            continue
    return found


def _gone(mark: str, seconds: float) -> bool:
    """True once no process carries ``mark`` (polled for at most ``seconds``)."""
    deadline = time.monotonic() + seconds
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _marked(mark) == []


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name
)
def test_every_signal_stops_serve_and_everything_it_started(sig: signal.Signals) -> None:
    """SIGKILL gives ``serve`` no chance to stop its server: the kernel tells the server."""
    mark, port = str(uuid.uuid4()), free_port()
    healthz = f"http://127.0.0.1:{port}/healthz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stress", "serve", "--port", str(port)],
        cwd=ROOT, env={**os.environ, "AUTH_STRESS_TEST_MARK": mark},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _answers(healthz):
            assert time.monotonic() < deadline, "serve never answered"
            time.sleep(0.1)
        assert len(_marked(mark)) >= 3  # auth-stress, the server, its workers, Redis
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == (-sig if sig == signal.SIGKILL else 0)
    finally:
        proc.kill()
    assert _gone(mark, 15), _marked(mark)
    with pytest.raises(httpx.ConnectError):
        httpx.get(healthz, timeout=1)


def test_only_the_main_thread_asks_children_to_stop_with_it() -> None:
    """Linux signals a child when the *thread* that started it ends, so a child started from a
    worker thread must not ask: it would stop when that thread does."""
    assert child_environment({})[PARENT_ENV] == str(os.getpid())
    from_worker: list[dict[str, str]] = []
    worker = threading.Thread(target=lambda: from_worker.append(child_environment({})))
    worker.start()
    worker.join()
    assert from_worker == [{}]
    assert PARENT_ENV not in os.environ  # the request goes to the child only


def test_serve_refuses_a_port_already_in_use() -> None:
    port = free_port()
    first = subprocess.Popen(
        [sys.executable, "-m", "stress", "serve", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"http://127.0.0.1:{port}/healthz"):
            assert time.monotonic() < deadline, "serve never answered"
            time.sleep(0.1)
        second = subprocess.run(
            [sys.executable, "-m", "stress", "serve", "--port", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert second.returncode == 2
        assert (
            one_line_error(second.stderr)
            == f"error: 127.0.0.1:{port} is already in use by another server"
        )
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=15)


def _has_open(pid: int, path: Path) -> bool:
    """True when process ``pid`` holds ``path`` open (a descriptor may close while looked at)."""
    wanted = str(path.resolve())
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:  # the process has ended
        return False
    for fd in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                return True
        except FileNotFoundError:
            continue
    return False


def test_an_interrupted_analysis_exits_3_with_one_line(tmp_path: Path) -> None:
    history = tmp_path / "big.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "synthetic_history.py"), str(history),
         "--ops", "300000"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "stress", "analyze", str(history)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # Interrupt it while it reads the history (its file is open), not while Python starts.
    deadline = time.monotonic() + 60
    while not _has_open(proc.pid, history):
        assert proc.poll() is None, "the analysis ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stdout[-2000:] + stderr[-4000:]
    assert one_line_error(stderr) == "error: interrupted before the analysis finished"


def _demo_running(folder: Path, mark: str) -> subprocess.Popen[str]:
    """``auth-stress demo`` in ``folder``, its processes marked, once its first run recorded an
    op: the history file exists a few milliseconds before the run watches for signals, and a
    Ctrl-C in between is an interrupt of its set-up, not of the run this test is about."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "stress", "demo"],
        cwd=folder, env={**os.environ, "AUTH_STRESS_TEST_MARK": mark},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(
        len(history.read_bytes().splitlines()) > 1
        for history in folder.glob("runs/demo-*/naive-x1.history.jsonl")
    ):
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the demo's first run never started")
        time.sleep(0.1)
    return proc


def test_ctrl_c_stops_the_demo_and_everything_it_started(tmp_path: Path) -> None:
    mark = str(uuid.uuid4())
    proc = _demo_running(tmp_path, mark)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stdout + stderr
    assert "interrupted after 1 of 5 servers" in stdout
    assert "MISMATCH" not in stdout
    assert _gone(mark, 5), _marked(mark)


def test_a_killed_demo_leaves_nothing_running(tmp_path: Path) -> None:
    mark = str(uuid.uuid4())
    proc = _demo_running(tmp_path, mark)
    assert len(_marked(mark)) >= 3  # the demo, Redis, a server and its worker
    proc.kill()
    proc.communicate(timeout=5)
    assert _gone(mark, 15), _marked(mark)

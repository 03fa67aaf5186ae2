"""Small promises of the command line, in-process: a second interrupt cannot cut the reports
short, an interrupt of an analysis is never lost, progress follows time when a scenario is
timed, and --version and serve --help work."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress
from typer.testing import CliRunner

from stress import __version__
from stress.cli import app
from stress.cli.run import PROGRESS_EVERY, _progress_of
from stress.pipeline import uninterrupted
from stress.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def test_a_signal_while_reports_are_written_is_held_not_raised() -> None:
    with uninterrupted() as held:
        os.kill(os.getpid(), signal.SIGINT)  # would raise KeyboardInterrupt outside
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGHUP)
    assert held == [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _InterruptedWhileCollected:
    """An object whose finalizer is where SIGINT lands: CPython prints the KeyboardInterrupt
    raised there as "ignored" and carries on."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


# The swallowed KeyboardInterrupt is the point: pytest reports it as unraisable.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_swallowed_by_a_finalizer_still_stops_the_analysis(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    finished: list[bool] = []

    def analysis(path: Path, overrides: object) -> None:
        _InterruptedWhileCollected()  # collected at once: the interrupt is raised in __del__
        finished.append(True)  # ...and lost there: the analysis goes on

    monkeypatch.setattr("stress.cli.analyze.analyze_history", analysis)
    result = CliRunner().invoke(app, ["analyze", str(tmp_path / "h.jsonl")])
    assert finished == [True]
    assert result.exit_code == 3
    assert "interrupted before the analysis finished" in result.stderr
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_progress_of_a_timed_scenario_follows_the_clock() -> None:
    soak = load_scenario(ROOT / "scenarios" / "soak.toml")
    with Progress(console=Console(file=io.StringIO())) as bar:
        advance = _progress_of(soak, bar)
        advance(5000, 10)  # ops done and planned say nothing for a load step
        [task] = bar.tasks
        assert task.total is not None
        assert task.total >= 20  # seconds of load, not 10 ops
        assert task.completed < task.total
    multi_tab = load_scenario(ROOT / "scenarios" / "multi-tab-burst.toml")
    with Progress(console=Console(file=io.StringIO())) as bar:
        _progress_of(multi_tab, bar)(7, 100)
        [task] = bar.tasks
        assert (task.completed, task.total) == (7, 100)


def test_progress_updates_are_spaced_but_the_last_op_is_shown() -> None:
    multi_tab = load_scenario(ROOT / "scenarios" / "multi-tab-burst.toml")
    with Progress(console=Console(file=io.StringIO())) as bar:
        advance = _progress_of(multi_tab, bar)
        started = time.monotonic()
        for done in range(1, 100):
            advance(done, 100)
        [task] = bar.tasks
        if time.monotonic() - started < PROGRESS_EVERY:  # a loaded machine may take longer
            assert task.completed == 1  # the first completion, then nothing for a while
        advance(100, 100)
        assert (task.completed, task.total) == (100, 100)


def test_version_is_an_option_and_a_command() -> None:
    assert CliRunner().invoke(app, ["--version"]).stdout.strip() == __version__
    assert CliRunner().invoke(app, ["version"]).stdout.strip() == __version__


def test_serve_help_lists_the_servers_own_options() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "stress", "serve", "--help"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 0
    assert "--strategy {naive,local-lock,redis-lock,atomic}" in proc.stdout


def test_no_help_shows_a_bool_metavar() -> None:
    for command in (
        "run",
        "analyze",
        "merge",
        "check",
        "policy",
        "init",
        "shrink",
        "replay",
        "demo",
    ):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0, command
        assert "<bool>" not in result.stdout, command
        if command == "run":
            assert "4 internal error" in result.stdout


def test_a_bad_shard_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    burst = str(ROOT / "scenarios" / "multi-tab-burst.toml")
    cases = [
        (["--shard", "0/4"], {}, "expected an index 1 to 4"),
        (["--shard", "5/4"], {}, "expected an index 1 to 4"),
        (["--shard", "x"], {}, "expected I/N"),
        (["--shard", "2/4"], {}, "must share a run id"),
        ([], {"JOB_COMPLETION_INDEX": "1"}, "AUTH_STRESS_SHARDS is not"),
        (["--shard", "1/17", "--run-id", "r"], {}, "fewer than 17 shards"),
        (["--start-at", "soon"], {}, "expected unix seconds or an ISO-8601"),
    ]
    for args, env, message in cases:
        for name in ("JOB_COMPLETION_INDEX", "AUTH_STRESS_SHARDS", "AUTH_STRESS_RUN_ID"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, ["run", burst, *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert result.output.count("\n") == 1, result.output
        assert "Traceback" not in result.output


def test_merge_refuses_what_is_not_a_whole_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["merge", str(tmp_path / "none.jsonl"), "-o", "m.jsonl"])
    assert result.exit_code == 2
    assert "cannot read history" in result.output
    assert not (tmp_path / "m.jsonl").exists()


def test_an_interrupt_wrapped_in_a_task_group_is_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A Ctrl-C that lands while a task group starts its tasks comes out as a group.
    import stress.cli as cli

    def interrupted() -> None:
        raise BaseExceptionGroup("tasks", [BaseExceptionGroup("inner", [KeyboardInterrupt()])])

    monkeypatch.setattr(cli, "app", interrupted)
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 3
    assert "interrupted" in capsys.readouterr().err
    mixed = BaseExceptionGroup("tasks", [KeyboardInterrupt(), ValueError("a bug")])
    assert not cli.only_interrupts(mixed)  # a bug beside it is not hidden


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--header", "apikey"], "--header 'apikey': expected 'Name: value'"),
        (["--header-env", "apikey"], "--header-env 'apikey': expected 'Name=VARIABLE'"),
        (["--header-env", "apikey=not a name"], "expected 'Name=VARIABLE'"),
        (["--header", "Cookie: a=1"], "--header: 'Cookie' is written by auth-stress itself"),
        (["--header", "k: 1", "--header-env", "K=V"], "--header-env: 'K' is in --header too"),
        (["--header", "k: 1", "--header", "K: 2"], "--header: 'k' is named twice"),
    ],
)
def test_headers_for_every_request_are_refused_by_their_flag_when_wrong(
    tmp_path: Path, args: list[str], message: str
) -> None:
    argv = ["init", "--target", "http://127.0.0.1:9", "--output", str(tmp_path / "s.toml")]
    result = CliRunner().invoke(app, [*argv, "--yes", *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


@pytest.mark.parametrize("command", ["run", "init", "policy", "calibrate", "replay", "shrink"])
@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("missing.pem", "--ca-file {path}: no such file or folder"),
        ("not-pem.txt", "--ca-file {path}: not a PEM bundle of CA certificates"),
    ],
)
def test_a_ca_file_that_cannot_be_loaded_is_refused_by_its_flag(
    tmp_path: Path, command: str, given: str, message: str
) -> None:
    (tmp_path / "not-pem.txt").write_text("not a certificate\n")
    path = str(tmp_path / given)
    argv = {
        "run": ["run", str(ROOT / "scenarios" / "multi-tab-burst.toml")],
        "init": ["init", "--target", "https://127.0.0.1:9", "--output", str(tmp_path / "s.toml")],
        "policy": ["policy", "--target", "https://127.0.0.1:9"],
        "calibrate": ["calibrate", "--target", "https://127.0.0.1:9"],
        "replay": ["replay", str(tmp_path / "h.jsonl"), "--finding", "1"],
        "shrink": ["shrink", str(ROOT / "scenarios" / "multi-tab-burst.toml")],
    }[command]
    result = CliRunner().invoke(app, [*argv, "--ca-file", path])
    assert result.exit_code == 2, result.output
    assert message.format(path=path) in " ".join(result.output.split())
    assert "Traceback" not in result.output

"""``auth-stress policy``'s bad input, unreachable targets, failed logins and interruptions:
one clear line and the documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.targets import TargetSpec
from typer.testing import CliRunner

from stress.cli import app
from stress.launcher import free_port

from .conftest import PASSWORD_ENV, PolicyRunner

SCENARIO = """
name = "flags"

[target]
kind = "oauth2"
base_url = "http://127.0.0.1:1"

[auth]
password = "password"

[policy]
kind = "strict"

[[steps]]
op = "login"
"""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "localhost:8000"), "expected an http:// or https:// base URL"),
        ((), "--target URL is needed when no scenario is given"),
        (("--target", "http://127.0.0.1:1", "--grace-max", "0"), "--grace-max 0"),
        (("--target", "http://127.0.0.1:1", "--grace-max", "30"), "raise --max-seconds"),
        (("--target", "http://127.0.0.1:1", "--resolution", "0.001"), "--resolution 0.001"),
        (("--target", "http://127.0.0.1:1", "--burst", "1"), "--burst 1"),
        (("--target", "http://127.0.0.1:1", "--password-env", "not a var"), "not an environment"),
        (("SCENARIO", "--client-id", "demo-client"), "--client-id: the scenario"),
        (("SCENARIO", "--token-endpoint", "/token"), "--token-endpoint: the scenario"),
        (("SCENARIO", "--mint-command", "./login"), "--mint-command: the scenario"),
        (
            ("SCENARIO", "--login-path", "/l", "--refresh-path", "/r"),
            "--login-path, --refresh-path",
        ),
        (("--target", "http://127.0.0.1:1", "--login-path", "/l"), "go together"),
        (
            (
                "--target",
                "http://127.0.0.1:1",
                "--login-path",
                "/l",
                "--refresh-path",
                "/r",
                "--scope",
                "api",
            ),
            "--scope: for OAuth 2.0 targets",
        ),
        (("--target", "http://127.0.0.1:1", "--mint-command", ""), "expected a command"),
        (
            ("--target", "http://127.0.0.1:1", "--mint-command", "a", "--username", "u"),
            "--username and --password-env go with the password grant",
        ),
        (("--target", "http://127.0.0.1:1", "--client-auth", "mtls"), "--client-auth 'mtls'"),
        (("--target", "http://127.0.0.1:1", "--client-auth", "body"), "basic, body or client_sec"),
        (("--target", "http://127.0.0.1:1", "--token-endpoint", "ftp://x"), "token_endpoint"),
        (("--target", "http://127.0.0.1:1", "--expect", "missing.toml"), "no such scenario file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Input is checked before anything is sent, so the command runs in-process here.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    argv = [str(tmp_path / "scenario.toml") if a == "SCENARIO" else a for a in args]
    result = CliRunner().invoke(app, ["policy", *argv])
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "runs").exists()


def test_an_unset_password_variable_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUTH_STRESS_NOT_SET", raising=False)
    argv = ["policy", "--target", "http://127.0.0.1:1", "--password-env", "AUTH_STRESS_NOT_SET"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert "set AUTH_STRESS_NOT_SET (the test users' password)" in result.output
    assert not (tmp_path / "runs").exists()


def test_an_unset_client_secret_variable_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTH_STRESS_PASSWORD", "password")
    monkeypatch.delenv("AUTH_STRESS_NOT_SET", raising=False)
    argv = [
        "policy",
        "--target",
        "http://127.0.0.1:1",
        "--client-secret-env",
        "AUTH_STRESS_NOT_SET",
    ]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert "set AUTH_STRESS_NOT_SET (the client's secret)" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.integration
def test_an_unreachable_target_exits_3(policy_cli: PolicyRunner) -> None:
    result = policy_cli("--target", f"http://127.0.0.1:{free_port()}")
    assert result.code == 3, result.stdout + result.stderr
    assert "unreachable" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("oauth_target", [TargetSpec("strict-revoke-family")], indirect=True)
def test_no_session_logging_in_exits_3_with_the_login_error(
    policy_cli: PolicyRunner, oauth_target: str
) -> None:
    result = policy_cli("--target", oauth_target, env={"AUTH_STRESS_PASSWORD": "wrong"})
    assert result.code == 3, result.stdout + result.stderr
    assert "could not log in" in result.stderr
    assert "invalid_grant" in result.stderr
    end = json.loads(result.history.read_text().splitlines()[-1])
    assert end["end"] == "login-failed"


@pytest.mark.integration
@pytest.mark.parametrize("oauth_target", [TargetSpec("idempotent", grace=5.0)], indirect=True)
def test_an_interrupted_measurement_keeps_its_history_and_exits_3(
    oauth_target: str, tmp_path: Path
) -> None:
    history, report = tmp_path / "history.jsonl", tmp_path / "measurement.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stress",
            "policy",
            "--target",
            oauth_target,
            "--client-id",
            "demo-client",
            "--history",
            str(history),
            "--json",
            str(report),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **PASSWORD_ENV},
    )
    deadline = time.monotonic() + 30
    # Wait until the grace search is under way (a replay has been recorded), then interrupt.
    while b'"step":"replay"' not in (history.read_bytes() if history.exists() else b""):
        assert time.monotonic() < deadline, "the measurement never started"
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 3, stdout + stderr
    assert "interrupted" in stderr
    end = json.loads(history.read_text().splitlines()[-1])
    assert end["end"] == "interrupted"
    measurement = json.loads(report.read_text())
    fields = {f["name"]: f for f in measurement["fields"]}
    assert fields["replay"]["measured"]  # what was measured before the signal is kept
    assert fields["replay"]["value"] == "same-pair"
    assert not fields["reuse_revokes"]["measured"]
    assert "interrupted" in fields["reuse_revokes"]["why"]

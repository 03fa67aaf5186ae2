"""The mint contract: a command mints each session's first pair, runs in the scenario's
folder, gets its placeholders, and says why when it fails."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import EXAMPLES, CliRunner, ExpressTarget

pytestmark = pytest.mark.integration

# Logs user N in at TARGET (the Express-style app's own login) and prints the JSON it answers:
# the tokens sit at the scenario's own paths (accessToken, refreshToken).
MINT = """#!/bin/sh
exec python3 -c '
import json, sys, urllib.request
n, target = sys.argv[1], sys.argv[2]
body = json.dumps({"email": f"user{n}@example.com", "password": "hunter2"}).encode()
request = urllib.request.Request(target + "/auth/login", data=body,
                                 headers={"content-type": "application/json"})
print(urllib.request.urlopen(request).read().decode())
' "$1" "$2"
"""
FAILING = """#!/bin/sh
echo "minting user $1 failed: no such user" >&2
exit 3
"""


def _scenario(folder: Path, script: str) -> Path:
    folder.mkdir()
    mint = folder / "mint.sh"
    mint.write_text(script)
    mint.chmod(mint.stat().st_mode | stat.S_IXUSR)
    text = (EXAMPLES / "express-multi-tab.toml").read_text()
    auth = '[auth]\nmode = "mint"\ncommand = ["./mint.sh", "{n}", "{target}"]\n'
    start = text.index("[auth]")
    end = text.index("[policy]")
    path = folder / "minted.toml"
    path.write_text(text[:start] + auth + "\n" + text[end:])
    return path


@pytest.mark.parametrize("express_target", ["body"], indirect=True)
def test_a_mint_command_runs_beside_its_scenario_with_placeholders(
    cli: CliRunner, express_target: ExpressTarget, tmp_path: Path
) -> None:
    scenario = _scenario(tmp_path / "elsewhere", MINT)
    result = cli("run", str(scenario), "--target", express_target.url)
    assert result.report is not None, result.stderr
    logins = result.report["stats"]["kinds"]["login"]
    assert (logins["ok"], logins["fail"]) == (6, 0), result.stdout
    assert result.code == 1  # and the app's own rotation bug is still caught


@pytest.mark.parametrize("express_target", ["body"], indirect=True)
def test_a_failing_mint_says_its_status_and_stderr(
    cli: CliRunner, express_target: ExpressTarget, tmp_path: Path
) -> None:
    scenario = _scenario(tmp_path / "elsewhere", FAILING)
    result = cli("run", str(scenario), "--target", express_target.url)
    assert result.code == 3, result.stdout + result.stderr
    assert result.report is not None
    reason = result.report["inconclusive_reason"]
    assert "exited with status 3; stderr: minting user" in reason
    assert "no such user" in reason
    assert "Traceback" not in result.stderr


# Logs user N in at the Express-style app and prints its JSON answer with the cookies it set:
# each argument after the target is `printed=cookie`, a cookie's value under a name of its own.
MINT_COOKIES = """#!/bin/sh
exec python3 -c '
import json, sys, urllib.request
from http.cookies import SimpleCookie
n, target, names = sys.argv[1], sys.argv[2], sys.argv[3:]
body = json.dumps({"email": f"user{n}@example.com", "password": "hunter2"}).encode()
request = urllib.request.Request(target + "/auth/login", data=body,
                                 headers={"content-type": "application/json"})
answer = urllib.request.urlopen(request)
jar = SimpleCookie()
for header in answer.headers.get_all("set-cookie"):
    jar.load(header)
printed = json.loads(answer.read())
for pair in names:
    name, cookie = pair.split("=")
    printed[name] = jar[cookie].value
print(json.dumps(printed))
' "$@"
"""
MINTED = """
name = "minted"
[auth]
mode = "mint"
command = ["./mint.sh", "{{n}}", "{{target}}", {printed}]
[policy]
kind = "strict"
[run]
sessions = 2
[[steps]]
op = "login"
[[steps]]
op = "refresh"
parallel = 2
[target]
base_url = "http://127.0.0.1:1"
access_token_path = "accessToken"
"""
# The `csrf` variant's refresh token and CSRF value are cookies; `session`'s express-session is.
CSRF_TARGET = """kind = "cookie"
refresh_cookie = "rt"
csrf_cookie = "XSRF-TOKEN"
[target.refresh]
path = "/auth/refresh"
headers = { X-XSRF-TOKEN = "{csrf}" }
"""
SESSION_TARGET = """kind = "json"
refresh_token_path = "refreshToken"
session_cookies = ["sid"]
[target.refresh]
path = "/auth/refresh"
json = { refreshToken = "{refresh_token}" }
"""


@pytest.mark.parametrize(
    ("express_target", "target", "printed", "missing"),
    [
        ("csrf", CSRF_TARGET, ["refresh_token=rt", "XSRF-TOKEN=XSRF-TOKEN"], None),
        ("csrf", CSRF_TARGET, ["refresh_token=rt", "csrf=XSRF-TOKEN"],
         "printed no CSRF value at `XSRF-TOKEN`"),
        ("session", SESSION_TARGET, ["sid=sid"], None),
        ("session", SESSION_TARGET, ["session=sid"],
         "printed no value for the session cookie `sid`"),
    ],
    indirect=["express_target"],
    ids=["csrf", "csrf-misnamed", "session", "session-misnamed"],
)  # fmt: skip
def test_a_mint_command_prints_each_cookie_value_under_its_cookie_name(
    cli: CliRunner,
    express_target: ExpressTarget,
    tmp_path: Path,
    target: str,
    printed: list[str],
    missing: str | None,
) -> None:
    # A command cannot set a cookie: it prints the CSRF value and each session cookie's.
    folder = tmp_path / "minted"
    folder.mkdir()
    mint = folder / "mint.sh"
    mint.write_text(MINT_COOKIES)
    mint.chmod(mint.stat().st_mode | stat.S_IXUSR)
    scenario = folder / "minted.toml"
    arguments = ", ".join(f'"{pair}"' for pair in printed)
    scenario.write_text(MINTED.format(printed=arguments) + target)
    result = cli("run", str(scenario), "--target", express_target.url)
    assert result.report is not None, result.stderr
    if missing is not None:  # printed under another name: said, not sent without it
        assert result.code == 3, result.stdout + result.stderr
        assert missing in result.report["inconclusive_reason"]
        return
    refreshes = result.report["stats"]["kinds"]["refresh"]
    assert refreshes["ok"] >= 2, result.stdout  # each value went with the refreshes: none refused
    assert result.code == 1, result.stdout  # and the fork is caught


# Says its pid, then waits far longer than the test does: only a signal ends it in time.
SLOW = """#!/bin/sh
echo $$ > "$(dirname "$0")/mint.pid"
exec sleep 60
"""


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie left to a parent that does not reap counts)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("express_target", ["body"], indirect=True)
def test_a_mint_command_stops_when_the_run_is_killed_outright(
    express_target: ExpressTarget, tmp_path: Path
) -> None:
    scenario = _scenario(tmp_path / "elsewhere", SLOW)
    pid_file = scenario.parent / "mint.pid"
    run = subprocess.Popen(
        [sys.executable, "-m", "stress", "run", str(scenario), "--target", express_target.url,
         "--no-progress", "--history", str(tmp_path / "h.jsonl")],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    mint = None
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert run.poll() is None, "the run ended before its mint started"
            assert time.monotonic() < deadline, "the mint never started"
            time.sleep(0.05)
        mint = int(pid_file.read_text())
        run.kill()  # SIGKILL: the run can stop nothing itself
        run.wait(timeout=10)
        deadline = time.monotonic() + 5
        while not _gone(mint) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(mint), "the mint command outlived the run"
    finally:
        run.kill()
        run.wait(timeout=10)
        if mint is not None and not _gone(mint):
            os.kill(mint, signal.SIGKILL)


@pytest.mark.parametrize("express_target", ["body"], indirect=True)
@pytest.mark.parametrize(("mode", "said"), [(None, "no such program"), (0o644, "not executable")])
def test_a_mint_command_that_cannot_be_started_says_why(
    cli: CliRunner, express_target: ExpressTarget, tmp_path: Path, mode: int | None, said: str
) -> None:
    scenario = _scenario(tmp_path / "elsewhere", MINT)
    mint = scenario.parent / "mint.sh"
    if mode is None:
        mint.unlink()
    else:
        mint.chmod(mode)
    result = cli("run", str(scenario), "--target", express_target.url)
    assert result.code == 3, result.stdout + result.stderr
    assert result.report is not None
    assert f"./mint.sh: {said}" in result.report["inconclusive_reason"]

"""The pytest plugin, end to end: a real pytest process collects scenario files and runs them.

Each test writes a small project with pytester, runs pytest in a subprocess (as CI does) against
a real reference server, and reads what pytest printed and the JUnit XML it wrote.
"""

from __future__ import annotations

import importlib.metadata
import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.servers import ServerFactory

from stress.launcher import free_port

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

# A project file that pytest must not mistake for a scenario (and that configures no pytest).
PYPROJECT = """\
[project]
name = "my-app"
version = "1.0"

[tool.ruff]
line-length = 100
"""

# A TOML file with a [target] table but no steps: some tool's config, not a scenario.
NOT_A_SCENARIO = """\
[target]
kind = "oauth2"
base_url = "http://127.0.0.1:1"
"""


@pytest.fixture(scope="module")
def servers(server_factory: ServerFactory) -> dict[str, str]:
    """Both servers, started before any pytester exists.

    Pytester restores ``sys.modules`` after each test; a server launched inside one test would
    leave the HTTP client's lazily imported modules half-restored for the next.
    """
    return {
        "naive": server_factory("naive", grace=5.0).url,
        "atomic": server_factory("atomic", grace=5.0).url,
    }


def _plugin_args() -> list[str]:
    """Load the plugin by module when the pytest11 entry point is not installed (yet)."""
    names = {ep.name for ep in importlib.metadata.entry_points(group="pytest11")}
    return [] if "auth_stress" in names else ["-p", "stress.pytest_plugin"]


def _project(pytester: pytest.Pytester, *scenarios: str) -> None:
    """Scenario files beside a pyproject.toml and an unrelated TOML config."""
    for name in scenarios:
        (pytester.path / name).write_text((SCENARIOS / name).read_text())
    (pytester.path / "pyproject.toml").write_text(PYPROJECT)
    (pytester.path / "settings.toml").write_text(NOT_A_SCENARIO)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        *_plugin_args(), "-p", "no:cacheprovider", *args, timeout=120
    )


def test_naive_server_fails_with_findings_and_junit(
    servers: dict[str, str], pytester: pytest.Pytester
) -> None:
    _project(pytester, "multi-tab-burst.toml")
    junit = pytester.path / "junit.xml"
    result = _run(pytester, "--auth-stress-target", servers["naive"], f"--junitxml={junit}", "-v")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "multi-tab-burst.toml::multi-tab-burst FAILED" in output
    # The failure message is the findings with their witness timelines, not a traceback.
    assert "auth-stress: multi-tab-burst: FAIL" in output
    assert "has two successors" in output or "sibling-invalidation" in output
    assert " -> ok " in output
    assert "reproduce with:" in output
    assert "Traceback" not in output
    assert "pyproject.toml::" not in output
    assert "settings.toml::" not in output

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "1"
    assert suite.get("failures") == "1"
    case = suite.find("testcase")
    assert case is not None
    assert case.get("name") == "multi-tab-burst"
    failure = case.find("failure")
    assert failure is not None
    assert "finding 1:" in (failure.text or "")
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["auth-stress-verdict"] == "fail"


def test_correct_server_passes_and_writes_reports(
    servers: dict[str, str], pytester: pytest.Pytester
) -> None:
    _project(pytester, "multi-tab-burst.toml", "strict-burst.toml")
    junit = pytester.path / "junit.xml"
    result = _run(
        pytester,
        "--auth-stress-target",
        servers["atomic"],
        "--auth-stress-json-dir",
        "reports",
        "--auth-stress-engine",
        "barrier",
        f"--junitxml={junit}",
        # strict-burst declares strict: atomic with grace 5 replays, which strict forbids.
        "-k",
        "multi-tab-burst",
    )
    result.assert_outcomes(passed=1, deselected=1)
    report = json.loads((pytester.path / "reports" / "multi-tab-burst.json").read_text())
    assert report["verdict"] == "pass"
    html = (pytester.path / "reports" / "multi-tab-burst.html").read_text()
    assert "<svg" in html or "PASS" in html
    history = (pytester.path / "reports" / "multi-tab-burst.history.jsonl").read_text()
    assert '"engine":"barrier"' in history.replace(" ", "")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "0")


def test_inert_without_a_target(pytester: pytest.Pytester) -> None:
    _project(pytester, "multi-tab-burst.toml")
    result = _run(pytester, "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(
        ["auth-stress: 1 scenario file(s) not collected: pass --auth-stress-target URL *"]
    )
    result = _run(pytester, "--collect-only", "-q", "--auth-stress-target", "http://127.0.0.1:1")
    assert result.ret == pytest.ExitCode.OK
    collected = [line for line in result.stdout.lines if "::" in line]
    assert collected == ["multi-tab-burst.toml::multi-tab-burst"]


def test_invalid_scenario_and_unreachable_target_fail_clearly(pytester: pytest.Pytester) -> None:
    _project(pytester, "strict-burst.toml")
    broken = (
        (SCENARIOS / "strict-burst.toml").read_text().replace("[run]\n", "[run]\nsesions = 3\n")
    )
    (pytester.path / "typo.toml").write_text(broken)
    (pytester.path / "syntax.toml").write_text('name = "x"\n[[steps]]\nop = \n')
    dead = f"http://127.0.0.1:{free_port()}"
    result = _run(pytester, "--auth-stress-target", dead)
    result.assert_outcomes(failed=3)
    output = result.stdout.str()
    assert "invalid scenario:" in output
    assert "sesions" in output
    assert "not valid TOML" in output
    assert "inconclusive:" in output
    assert "unreachable" in output


LONG = """\
name = "{name}"
[target]
kind = "oauth2"
client_id = "demo-client"
[auth]
password = "password"
[policy]
kind = "idempotent"
grace_seconds = 5
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


def test_ctrl_c_stops_the_session_after_the_scenario_it_interrupted(
    servers: dict[str, str], pytester: pytest.Pytester
) -> None:
    """The run's own watch takes the signal, so pytest would not see it and go on to the next
    scenario: the plugin stops the session after the interrupted one, keeping its reports."""
    for name in ("long-a", "long-b"):
        (pytester.path / f"{name}.toml").write_text(LONG.format(name=name))
    junit = pytester.path / "junit.xml"
    argv = [sys.executable, "-m", "pytest", *_plugin_args(), "-p", "no:cacheprovider",
            "--auth-stress-target", servers["atomic"], "--auth-stress-json-dir", "reports",
            f"--junitxml={junit}"]  # fmt: skip
    log = pytester.path / "pytest.log"
    with log.open("wb") as out:
        proc = pytester.popen(argv, stdout=out, stderr=subprocess.STDOUT)
    history = pytester.path / "reports" / "long-a.history.jsonl"
    deadline = time.monotonic() + 60
    while not (history.exists() and len(history.read_text().splitlines()) > 30):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the first scenario recorded too little in 60 s"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, log.read_text()
    report = json.loads((pytester.path / "reports" / "long-a.json").read_text())
    assert (report["verdict"], report["inconclusive_reason"]) == ("unknown", "interrupted")
    assert not (pytester.path / "reports" / "long-b.history.jsonl").exists()
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("1", "1")

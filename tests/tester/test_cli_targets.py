"""The tester against an independent target, bad input, unreachable targets, and secrecy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tester.conftest import EXAMPLES, ROOT, SCENARIOS, CliRunner, ExpressTarget

pytestmark = pytest.mark.integration


def scenario_for(target: ExpressTarget) -> str:
    name = "cookie-multi-tab.toml" if "cookie" in target.log.name else "express-multi-tab.toml"
    return str(EXAMPLES / name)


def test_express_style_target_bug_is_caught(cli: CliRunner, express_target: ExpressTarget) -> None:
    result = cli("run", scenario_for(express_target), "--target", express_target.url)
    assert result.code == 1, result.stdout + result.stderr
    if "cookie" in express_target.log.name:
        # Strict reuse detection with no grace: a tab's refresh logs the whole family out.
        assert result.findings("sibling-invalidation"), result.stdout
    else:
        # Check-then-await-then-write: concurrent refreshes each mint a successor.
        assert result.findings("fork"), result.stdout


def test_no_raw_token_in_any_output(
    cli: CliRunner, express_target: ExpressTarget, tmp_path: Path
) -> None:
    log_file = tmp_path / "tester.log"
    junit = tmp_path / "junit.xml"
    result = cli(
        "run",
        scenario_for(express_target),
        "--target",
        express_target.url,
        "--junit",
        str(junit),
        "--log-level",
        "debug",
    )
    assert result.code in (0, 1), result.stderr
    tokens = [t for t in express_target.token_log.read_text().split() if t]
    assert len(tokens) > 20  # the run really received tokens
    outputs = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "junit": junit.read_text(),
        "history": (tmp_path / "history.jsonl").read_text(),
    }
    outputs.update({p.name: p.read_text() for p in tmp_path.glob("report-*.json")})
    if log_file.exists():
        outputs["log"] = log_file.read_text()
    for name, text in outputs.items():
        leaked = [t for t in tokens if t in text]
        assert not leaked, f"{len(leaked)} raw token(s) in {name}"


BROKEN = {
    "wrong-type.toml": (
        'name = "x"\n[run]\nsessions = "ten"\n',
        "`run.sessions`: expected `int`, got `str`",
    ),
    "unknown-key.toml": ('name = "x"\ncolour = 1\n', "unknown key `colour` at the top level"),
    "no-target.toml": (
        'name = "x"\n[auth]\npassword = "p"\n[policy]\nkind = "strict"\n[[steps]]\nop = "login"\n',
        "missing key `target` at the top level",
    ),
    "bad.toml": ("name = \n", "not valid TOML"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_check_rejects_broken_scenarios(cli: CliRunner, tmp_path: Path, name: str) -> None:
    text, expected = BROKEN[name]
    path = tmp_path / name
    path.write_text(text)
    result = cli("check", str(path))
    assert result.code == 2
    assert expected in result.stderr
    assert name in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3


def test_check_accepts_shipped_scenarios(cli: CliRunner) -> None:
    result = cli("check", *map(str, sorted(SCENARIOS.glob("*.toml"))))
    assert result.code == 0, result.stderr


def test_unreachable_target_exits_3(cli: CliRunner) -> None:
    from stress.launcher import free_port

    url = f"http://127.0.0.1:{free_port()}"
    for scenario in (SCENARIOS / "multi-tab-burst.toml", EXAMPLES / "express-multi-tab.toml"):
        result = cli("run", str(scenario), "--target", url, timeout=60)
        assert result.code == 3, result.stdout + result.stderr
        assert "unreachable" in (result.stdout + result.stderr)
        assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(cli: CliRunner) -> None:
    result = cli("run", str(SCENARIOS / "multi-tab-burst.toml"), "--engine", "warp")
    assert result.code == 2
    assert "--engine" in result.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "stress", "run"], capture_output=True, text=True, cwd=ROOT,
        check=False, timeout=30,
    )  # fmt: skip
    assert missing.returncode == 2

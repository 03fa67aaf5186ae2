"""Fixtures for end-to-end tests of the tester: the CLI as a real process, real targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.targets import serving

from stress.launcher import free_port

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
# Scenarios for custom JSON and cookie APIs, shipped as examples with the guide to them.
EXAMPLES = ROOT / "docs" / "examples"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    def findings(self, checker: str) -> list[dict[str, Any]]:
        assert self.report is not None, self.stderr
        return [f for f in self.report["findings"] if f["checker"] == checker]


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """Run ``python -m stress ARGS`` with a JSON report; bounded in time."""

    def run(*args: str, timeout: float = 90, env: dict[str, str] | None = None) -> CliResult:
        report_path = tmp_path / f"report-{time.monotonic_ns()}.json"
        argv = [sys.executable, "-m", "stress", *args]
        if args and args[0] in ("run", "analyze"):
            argv += ["--json", str(report_path)]
        if args and args[0] == "run":
            argv += ["--no-progress", "--history", str(tmp_path / "history.jsonl")]
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp_path,
            env={**os.environ, **(env or {})},
            check=False,
        )
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        return CliResult(proc.returncode, proc.stdout, proc.stderr, report)

    return run


@dataclass
class ExpressTarget:
    url: str
    token_log: Path
    log: Path


@pytest.fixture(params=["body", "cookie"])
def express_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExpressTarget]:
    """The Express-style test target (tests/targets/express_style.py) as a real process."""
    variant = request.param
    port = free_port()
    token_log = tmp_path / "issued-tokens.txt"
    log = tmp_path / f"express-{variant}.log"
    argv = [sys.executable, "-m", "tests.targets.express_style", "--variant", variant]
    env = {"EXPRESS_TOKEN_LOG": str(token_log)}
    with serving([*argv, "--port", str(port)], port, log, name="express target", env=env) as url:
        yield ExpressTarget(url=url, token_log=token_log, log=log)

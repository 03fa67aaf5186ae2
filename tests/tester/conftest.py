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

import httpx
import pytest

from stress.launcher import free_port

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


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
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.targets.express_style", "--variant", variant,
             "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "EXPRESS_TOKEN_LOG": str(token_log)},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"express target did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield ExpressTarget(url=url, token_log=token_log, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

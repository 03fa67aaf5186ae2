"""Running ``auth-stress policy`` as a real process, for the tests of the measurement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tester.conftest import cli  # noqa: F401  (the `run` command's fixture, for the run tests)

PASSWORD_ENV = {"AUTH_STRESS_PASSWORD": "password"}
"""The behaviour targets' and the reference server's test password, where the CLI looks."""


@dataclass
class Measured:
    """One ``auth-stress policy`` process: exit code, output, and its ``--json`` measurement."""

    code: int
    stdout: str
    stderr: str
    measurement: dict[str, Any] | None

    def fields(self) -> dict[str, Any]:
        assert self.measurement is not None, self.stdout + self.stderr
        return {f["name"]: f["value"] for f in self.measurement["fields"]}

    def unmeasured(self) -> set[str]:
        assert self.measurement is not None, self.stdout + self.stderr
        return {f["name"] for f in self.measurement["fields"] if not f["measured"]}


PolicyRunner = Callable[..., Measured]


def run_policy(workdir: Path, *args: str, timeout: float = 120) -> Measured:
    """``python -m stress policy ARGS --json ... --history ...`` in ``workdir``."""
    stamp = time.monotonic_ns()
    measurement = workdir / f"measurement-{stamp}.json"
    argv = [
        sys.executable,
        "-m",
        "stress",
        "policy",
        *args,
        "--json",
        str(measurement),
        "--history",
        str(workdir / f"history-{stamp}.jsonl"),
    ]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=workdir,
        env={**os.environ, **PASSWORD_ENV},
        check=False,
    )
    document = json.loads(measurement.read_text()) if measurement.exists() else None
    return Measured(proc.returncode, proc.stdout, proc.stderr, document)


@pytest.fixture
def policy_cli(tmp_path: Path) -> PolicyRunner:
    """Run ``auth-stress policy`` with the given arguments (a JSON measurement is read back)."""

    def run(*args: str, timeout: float = 120) -> Measured:
        return run_policy(tmp_path, *args, timeout=timeout)

    return run

"""Running ``auth-stress policy`` as a real process, for the tests of the measurement."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_init import auth_stress
from tester.conftest import (  # noqa: F401  (fixtures: the `run` command, the Express target)
    cli,
    express_target,
)

PASSWORD_ENV = {"AUTH_STRESS_PASSWORD": "password"}
"""The behaviour targets' and the reference server's test password, where the CLI looks."""


@dataclass
class Measured:
    """One ``auth-stress policy`` process: exit code, output, and its ``--json`` measurement."""

    code: int
    stdout: str
    stderr: str
    measurement: dict[str, Any] | None
    history: Path

    def fields(self) -> dict[str, Any]:
        assert self.measurement is not None, self.stdout + self.stderr
        return {f["name"]: f["value"] for f in self.measurement["fields"]}

    def unmeasured(self) -> set[str]:
        assert self.measurement is not None, self.stdout + self.stderr
        return {f["name"] for f in self.measurement["fields"] if not f["measured"]}


PolicyRunner = Callable[..., Measured]


def run_policy(workdir: Path, *args: str, env: dict[str, str] | None = None) -> Measured:
    """``auth-stress policy ARGS --json ... --history ...``, its measurement read back."""
    stamp = time.monotonic_ns()
    measurement = workdir / f"measurement-{stamp}.json"
    history = workdir / f"history-{stamp}.jsonl"
    proc = auth_stress(
        "policy", *args, "--json", str(measurement), "--history", str(history),
        cwd=workdir, env={**PASSWORD_ENV, **(env or {})},
    )  # fmt: skip
    document = json.loads(measurement.read_text()) if measurement.exists() else None
    return Measured(proc.returncode, proc.stdout, proc.stderr, document, history)


@pytest.fixture
def policy_cli(tmp_path: Path) -> PolicyRunner:
    """Run ``auth-stress policy`` with the given arguments (a JSON measurement is read back)."""

    def run(*args: str, env: dict[str, str] | None = None) -> Measured:
        return run_policy(tmp_path, *args, env=env)

    return run

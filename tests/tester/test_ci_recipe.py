"""The CI recipe of docs/ci.md, run as written: its commands, not a copy of them.

The workflow's job-level environment and every ``run:`` step are read out of the document and
executed in order by one shell, as a fresh runner would: in a copy of the working tree, with a
fresh virtual environment first on PATH (the recipe installs into it), and with only what a
runner provides swapped in: the Redis service's URL (this suite's own Redis) and a free port
for the app. Then every shipped scenario must have passed against the reference server started
as the recipe starts it, with nothing for the checkers to say, and the policy must have matched
the one the scenarios declare.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stress.launcher import free_port

from .conftest import ROOT, SCENARIOS

pytestmark = pytest.mark.integration

CI_DOC = ROOT / "docs" / "ci.md"


def workflow() -> str:
    [block] = re.findall(r"```yaml\n(.*?)```", CI_DOC.read_text(), re.S)
    return str(block)


def job_env(text: str) -> dict[str, str]:
    """The job's ``env:`` mapping (``KEY: value`` lines, quotes stripped)."""
    section = re.search(r"(?m)^    env:\n((?:      \S.*\n)+)", text)
    assert section is not None, "the workflow's job has no env"
    pairs = (line.strip().split(":", 1) for line in section.group(1).splitlines())
    return {key.strip(): value.strip().strip('"') for key, value in pairs}


def run_steps(text: str) -> list[str]:
    """Every step's ``run:`` script, in order (one line, or a ``|`` block)."""
    steps = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)(?:- )?run: (.*)$", line)
        if match is None:
            continue
        if match.group(2) != "|":
            steps.append(match.group(2))
            continue
        indent = len(match.group(1)) + 2
        block = []
        for following in lines[i + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) < indent:
                break
            block.append(following[indent:])
        steps.append("\n".join(block).strip())
    return steps


def test_the_documented_workflow_passes_against_the_reference_server(
    tmp_path: Path, redis_url: str
) -> None:
    text = workflow()
    env = job_env(text)
    assert set(env) == {"REDIS_URL", "APP_PORT"}
    env.update(REDIS_URL=redis_url, APP_PORT=str(free_port()))
    script = "set -euo pipefail\n" + "\n".join(run_steps(text)) + "\n"
    checkout = tmp_path / "checkout"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    # A user's repository has its own pytest settings, not this project's test-suite ones.
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(re.sub(r"(?ms)^\[tool\.pytest\.ini_options\].*?(?=^\[|\Z)", "",
                                pyproject.read_text()))  # fmt: skip
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    bin_dir = tmp_path / "venv" / "bin"
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=checkout,
        env={**os.environ, **env, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=600)
    finally:
        # The recipe leaves the server running; the end of a CI job stops it, and so do we.
        os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(1)
    assert proc.returncode == 0, output[-6000:]
    assert "policy drift" not in output
    shipped = {path.stem for path in SCENARIOS.glob("*.toml")}
    reports = {}
    for name in shipped:
        document = json.loads((checkout / "reports" / f"{name}.json").read_text())
        reports[name] = (document["verdict"], document["findings"])
    assert reports == dict.fromkeys(shipped, ("pass", [])), output[-6000:]

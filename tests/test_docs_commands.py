"""Every shell example in the README and docs/ runs, and exits as the text says.

Each document's ``sh`` blocks run in order in one shell (so an ``export`` or a file written by
one block serves the next), in a fresh folder that holds the repository's scenarios and
examples. The servers the examples talk to are provided: ``127.0.0.1:8000`` is the reference
server's ``atomic`` strategy and ``127.0.0.1:8001`` its ``naive`` one, so the lines that start
them (``auth-stress serve ... &``) are not run. A command whose line ends in ``# exits N`` (or
``# exits N or M``) must exit so; every other command must exit 0. The two set-up commands are
checked against what CI runs: the test command is the one in .ci/run, and the demo command's
install is the same install, so only its last command runs here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.servers import ServerFactory

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SETUP = re.compile(r"^python3 -m venv \.venv && \.venv/bin/pip install -e (?P<extra>\S+) && ")
TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest"
EXITS = re.compile(r"#\s*exits (\d)(?: or (\d))?")

pytestmark = pytest.mark.integration


def sh_blocks(path: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", path.read_text(), re.S)


def commands(block: str) -> list[str]:
    """The block's commands, each joined across ``\\`` continuations."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def script_for(path: Path, urls: dict[str, str]) -> str:
    """One bash script running every command of the document, each checked for its exit."""
    ci_run = (ROOT / ".ci" / "run").read_text()
    lines = ["set -uo pipefail"]
    for number, block in enumerate(sh_blocks(path)):
        for command in commands(block):
            if command.startswith("#") or re.match(r"^auth-stress serve .*&(\s*#.*)?$", command):
                continue
            setup = SETUP.match(command)
            if setup:
                # CI installs with the test extra; the demo's install is the same but for it.
                tested = command.replace(f"-e {setup.group('extra')} ", "-e '.[test]' ", 1)
                assert tested.split(" && ")[:2] == TEST_COMMAND.split(" && ")[:2], command
                if command == TEST_COMMAND:
                    assert TEST_COMMAND in ci_run.splitlines()  # the suite this test is part of
                    continue
                command = command[setup.end() :].replace(".venv/bin/", "")
            codes = EXITS.search(command)
            allowed = [c for c in codes.groups() if c] if codes else ["0"]
            body = command.split(" #", 1)[0] if codes or " #" in command else command
            for old, new in urls.items():
                body = body.replace(old, new)
            check = " || ".join(f"[ $code -eq {c} ]" for c in allowed)
            lines += [
                f"echo '::: block {number}: {body[:60].replace(chr(39), '')}' >&2",
                body,
                "code=$?",
                f'if ! {{ {check}; }}; then echo "::: exit $code" >&2; exit 99; fi',
            ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "path", [p for p in DOCS if sh_blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_documented_commands_run(
    path: Path, tmp_path: Path, server_factory: ServerFactory
) -> None:
    atomic = server_factory("atomic", grace=1.0).url
    naive = server_factory("naive", grace=1.0).url
    urls = {"http://127.0.0.1:8000": atomic, "http://127.0.0.1:8001": naive}
    for name in ("scenarios", "docs"):
        (tmp_path / name).symlink_to(ROOT / name)
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run(
        ["bash", "-c", script_for(path, urls)],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])

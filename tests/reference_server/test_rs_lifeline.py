"""A server started by a launcher stops when that launcher dies, however it dies."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reference_server.lifeline import PARENT_ENV

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="a parent-death signal is Linux's")

FOLLOW = "from reference_server.lifeline import follow_launcher; follow_launcher(); print('ran')"


def _follow(value: str, code: str = FOLLOW) -> subprocess.CompletedProcess[str]:
    """An entry point's first step (``code``), in a child of this process, with
    ``PARENT_ENV=value``."""
    env = {**os.environ, PARENT_ENV: value}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )


def test_a_child_of_the_named_launcher_runs() -> None:
    done = _follow(str(os.getpid()))
    assert (done.returncode, done.stdout, done.stderr) == (0, "ran\n", "")


def test_a_launcher_that_is_already_gone_stops_the_child_at_once() -> None:
    """The pid named is not the parent: the launcher died (and the child went to init) before
    the child could ask to be told."""
    done = _follow("1")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "error: the process that started this one (1) has already exited\n"


def test_a_value_that_is_not_a_pid_is_refused_in_one_line() -> None:
    done = _follow("me")
    assert done.returncode == 1
    assert done.stderr == f"error: {PARENT_ENV} must be a process id, not 'me'\n"


def test_the_request_is_not_handed_down_to_the_childs_own_children() -> None:
    code = (
        "import os; from reference_server.lifeline import follow_launcher; follow_launcher(); "
        f"print({PARENT_ENV!r} in os.environ)"
    )
    done = _follow(str(os.getpid()), code)
    assert done.stdout == "False\n", done.stderr

"""Commands the tester runs that stop when the tester is killed.

Why this module exists: a run stops what it started when it is interrupted or terminated, but
SIGKILL (or the out-of-memory killer) gives it no chance to, and a mint command it was waiting
for would go on running. Linux sends a child a signal when its parent dies if the child asks for
it (``PR_SET_PDEATHSIG``), and a mint command is the user's own program: so it is started through
a few lines of Python that ask, then exec it in their place (the request survives the exec).
Linux ties the signal to the *thread* that started the child, so only a command started from
the main thread is guarded; elsewhere than Linux the command runs as given.
"""

from __future__ import annotations

import os
import sys
import threading

__all__ = ["EXEC_FAILED", "exec_failure", "guarded"]

EXEC_FAILED = "auth-stress: cannot run the command: "
"""How the guard's stderr starts when the command itself could not be started (exit 127)."""

# Run as ``python -I -S -c GUARD PARENT_PID ARGV...``: SIGTERM when the parent dies, unless it
# died already (this process then belongs to init), then the command in this process's place.
_GUARD = f"""import ctypes, os, signal, sys
try:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
except OSError:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
try:
    os.execvp(sys.argv[2], sys.argv[2:])
except OSError as exc:
    sys.stderr.write({EXEC_FAILED!r} + type(exc).__name__ + "\\n")
    sys.exit(127)
"""


def guarded(argv: list[str]) -> list[str]:
    """``argv`` started so that it gets SIGTERM when this process dies, where Linux can."""
    if not argv or sys.platform != "linux":
        return argv
    if threading.current_thread() is not threading.main_thread():
        return argv
    return [sys.executable, "-I", "-S", "-c", _GUARD, str(os.getpid()), *argv]


def exec_failure(returncode: int, stderr: bytes) -> str | None:
    """The name of the ``OSError`` that kept a guarded command from starting, if one did
    (``FileNotFoundError``, ``PermissionError``)."""
    text = stderr.decode(errors="replace")
    if returncode != 127 or not text.startswith(EXEC_FAILED):
        return None
    return text[len(EXEC_FAILED) :].strip()

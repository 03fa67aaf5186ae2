"""Stop when the process that started us dies, even when nothing could tell us.

Why this module exists: a launcher stops its children when it is interrupted or terminated,
but a launcher that is killed (SIGKILL, a crash, the out-of-memory killer) stops nothing, and its
server would go on holding its port, its Redis and its signing key. Linux can send a child a
signal when its parent dies (``PR_SET_PDEATHSIG``); the child asks for it itself, after exec,
so the parent needs no code between fork and exec (``preexec_fn`` is unsafe once threads run):

- the embedded Redis asks for it through ``preexec_fn`` before its own exec (its parent, this
  package, starts it before any thread of its own), see :func:`die_with_parent`;
- a launcher that wants its child gone with it sets ``AUTH_STRESS_PARENT_PID`` to its own pid
  in the child's environment, and the child's entry point calls :func:`follow_launcher`.

Linux ties the signal to the *thread* that started the child, so launchers ask only from their
main thread (a worker thread that ends would stop the child). Elsewhere than Linux both are
no-ops: a killed launcher there still leaves its child running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

__all__ = ["PARENT_ENV", "die_with_parent", "follow_launcher"]

# Set by the launcher (``stress.launcher``, ``auth-stress serve``) to its own pid.
PARENT_ENV = "AUTH_STRESS_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent (thread) dies; no-op elsewhere."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError):  # no libc.so.6 (a musl system): nothing to ask
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def follow_launcher() -> None:
    """Stop with the launcher named in ``AUTH_STRESS_PARENT_PID``, if one is named.

    The variable is removed from the environment first, so this process's own children (the
    server's workers and Redis) do not take this process's parent for theirs. A launcher that
    died before the request took effect has already left this process to init: it stops now.
    """
    value = os.environ.pop(PARENT_ENV, None)
    if value is None:
        return
    if not value.isdigit():
        raise SystemExit(f"error: {PARENT_ENV} must be a process id, not {value!r}")
    die_with_parent()
    if sys.platform == "linux" and os.getppid() != int(value):
        raise SystemExit(f"error: the process that started this one ({value}) has already exited")

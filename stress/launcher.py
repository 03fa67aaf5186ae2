"""Start and stop the reference server and its Redis as child processes.

Why this module exists: ``auth-stress serve``/``demo`` and the tests need a real Redis and real
server processes, started with bounded timeouts and stopped reliably, without importing
``reference_server`` (the server stays a black box reached over HTTP and a command line).

Usage::

    with RedisProcess() as redis, ServerProcess("atomic", redis_url=redis.url) as server:
        httpx.get(server.url + "/healthz")
        redis.stop(); redis.start()          # an outage on the same port

Both classes raise ``LauncherError`` with the child's last log lines when a start fails.

A launcher that is killed (SIGKILL, a crash) cannot stop its children, so every child started
here (and by ``auth-stress serve``) is asked to stop with the process that started it: its
environment names that process (``AUTH_STRESS_PARENT_PID``, see :func:`child_environment`),
and the reference server's entry points ask Linux for a signal when it dies.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from stress.errors import LaunchError

__all__ = [
    "PARENT_ENV",
    "LauncherError",
    "RedisProcess",
    "ServerProcess",
    "child_environment",
    "free_port",
]

# Read by the reference server's entry points, which stop when the process it names dies.
PARENT_ENV = "AUTH_STRESS_PARENT_PID"

_STOP_TIMEOUT_S = 5.0
_TAIL_LINES = 30


class LauncherError(LaunchError):
    """A child process did not start, or died while starting."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = _TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) for a reference-server child that is to
    stop with this process.

    Only a child started from the main thread is told so: Linux sends the parent-death signal
    when the *thread* that started the child ends, and a worker thread ends long before the
    process does.
    """
    env = dict(os.environ if base is None else base)
    if threading.current_thread() is threading.main_thread():
        env[PARENT_ENV] = str(os.getpid())
    else:
        env.pop(PARENT_ENV, None)
    return env


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM, then SIGKILL after ``timeout``; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return proc.returncode


class RedisProcess:
    """``python -m reference_server.embedded_redis`` as a child process.

    ``url`` is known after ``start``; ``stop``/``start`` (or ``restart``) reuse the same port, so a
    server pointed at ``url`` sees an outage and then an empty Redis again. Data is not persisted.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        log_path: Path | None = None,
        start_timeout: float = 15.0,
        python: str = sys.executable,
    ) -> None:
        self.port = port
        self.start_timeout = start_timeout
        self._python = python
        self._own_log = log_path is None
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="redis-", suffix=".log")[1])
        self._proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def running(self) -> bool:
        """True while the child is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Start (on ``port`` if already known) and return the Redis URL."""
        if self.running:
            return self.url
        argv = [self._python, "-m", "reference_server.embedded_redis"]
        if self.port is not None:
            argv += ["--port", str(self.port)]
        env = child_environment({k: v for k, v in os.environ.items() if k != "REDIS_URL"})
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env
            )
        self._proc = proc
        assert proc.stdout is not None
        line = b""
        deadline = time.monotonic() + self.start_timeout
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    break
                chunk = os.read(proc.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
        text = line.decode(errors="replace").strip()
        if not text.startswith("REDIS_URL="):
            self.stop()
            raise LauncherError(
                f"embedded Redis did not report its URL within {self.start_timeout}s "
                f"(got {text!r}); log {self.log_path}:\n{_tail(self.log_path)}"
            )
        self.url = text.removeprefix("REDIS_URL=")
        self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])
        return self.url

    def stop(self) -> None:
        """Stop the child (and with it the Redis server); the port is kept for ``start``."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc, _STOP_TIMEOUT_S)
            if proc.stdout is not None:
                proc.stdout.close()

    def restart(self) -> str:
        """Stop, then start on the same port; returns the URL."""
        self.stop()
        return self.start()

    def __enter__(self) -> RedisProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._own_log:
            self.log_path.unlink(missing_ok=True)


class ServerProcess:
    """``python -m reference_server`` on a free 127.0.0.1 port, ready once /healthz answers.

    ``extra_args`` are passed through (e.g. ``["--inject-delay-ms", "50"]``). stdout and stderr go
    to ``log_path`` (a temp file by default, kept after stop so tests can inspect it).
    """

    def __init__(
        self,
        strategy: str = "atomic",
        *,
        redis_url: str | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        workers: int = 1,
        grace: float = 2.0,
        access_ttl: int = 300,
        refresh_ttl: int = 86400,
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
        start_timeout: float = 20.0,
        python: str = sys.executable,
    ) -> None:
        self.strategy = strategy
        self.redis_url = redis_url
        self.host = host
        self.port = port or free_port()
        self.workers = workers
        self.grace = grace
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self._python = python
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="server-", suffix=".log")[1])
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{self.host}:{self.port}"

    @property
    def argv(self) -> list[str]:
        """The full command line of the child."""
        argv = [
            self._python, "-m", "reference_server",
            "--strategy", self.strategy,
            "--host", self.host,
            "--port", str(self.port),
            "--workers", str(self.workers),
            "--grace", str(self.grace),
            "--access-ttl", str(self.access_ttl),
            "--refresh-ttl", str(self.refresh_ttl),
        ]  # fmt: skip
        if self.redis_url:
            argv += ["--redis-url", self.redis_url]
        return argv + self.extra_args

    @property
    def running(self) -> bool:
        """True while the child is alive."""
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        """Everything the server has logged so far."""
        return self.log_path.read_text(errors="replace")

    def start(self) -> None:
        """Start and wait until ``GET /healthz`` returns 200; raises ``LauncherError``."""
        if self.running:
            return
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(),
            )
        deadline = time.monotonic() + self.start_timeout
        # Directly, whatever proxy the environment names: the server is on this machine.
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    break
                try:
                    if client.get(self.url + "/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        status = self._proc.poll()
        self.stop()
        state = f"exited with {status}" if status is not None else "timed out"
        raise LauncherError(
            f"reference server {state} before /healthz answered on {self.url} "
            f"({' '.join(self.argv[1:])}); log {self.log_path}:\n{_tail(self.log_path)}"
        )

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after a bounded wait; returns the exit status."""
        proc, self._proc = self._proc, None
        return _terminate(proc, _STOP_TIMEOUT_S) if proc is not None else None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

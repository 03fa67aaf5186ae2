"""Session fixtures: a real Redis and real reference-server processes, started once.

Why this file exists: integration tests need real processes, but starting them is the slow part
of the suite, so servers are cached per configuration for the whole session (at most
``ServerFactory.max_running`` alive at once) and stopped at the end. The suite runs in two
pytest-xdist workers, and a session is a worker's: each starts its own Redis and servers (or
shares ``$REDIS_URL``, as replicas of one configuration already do).

Fixtures:

- ``redis_url`` (session): ``$REDIS_URL`` if set, else a ``RedisProcess`` started for the session.
- ``server_factory`` (session): ``server_factory(strategy, *, replica="a", grace=1.0,
  workers=1, extra_args=(), redis_url=None) -> ServerProcess``; the same arguments return the
  same running server; a different ``replica`` name gives a second process with the same
  configuration on the same Redis.
- ``log_dir`` (session): a directory for child-process logs.
- ``cert_files`` (session): a self-signed certificate for 127.0.0.1 and its key, as PEM files;
  ``client_cert_files`` (session): a client certificate it issued and its key (mutual TLS).
- ``metadata_less_site`` (session): the base URL of a plain static web server that answers 404
  to every discovery path, as many real servers do.
- ``oauth_target`` (module, from ``support.targets``): an OAuth behaviour target
  (tests/targets/oauth_behaviours) as a real process; parametrize it indirectly with a
  ``TargetSpec``; it yields the base URL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.certificates import Pair, issue, write_pair
from support.servers import ServerFactory

from stress.launcher import RedisProcess, free_port

pytest_plugins = ["support.targets"]


# While the suite runs: PYTHONDONTWRITEBYTECODE's own value, and the bytecode cache in its place.
_bytecode_cache = pytest.StashKey[tuple[str, str]]()


def pytest_configure(config: pytest.Config) -> None:
    """Prepare what every process the tests start inherits: Ctrl-C and a bytecode cache.

    A shell without job control starts a background command with SIGINT ignored, and an
    ignored signal stays ignored across exec, so every CLI a test interrupts would ignore the
    test's SIGINT too. A handler (unlike SIG_IGN) is reset to the default on exec.

    The suite starts hundreds of Python processes (CLIs, servers, their workers, targets).
    Where ``PYTHONDONTWRITEBYTECODE`` is set, as on some CI machines, each of them compiled the
    project from source again, about 0.1 s of CPU per process; they now share a bytecode cache
    of this session (``PYTHONPYCACHEPREFIX``), outside the source tree and removed at the end.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    dont_write = os.environ.get("PYTHONDONTWRITEBYTECODE")
    if dont_write and "PYTHONPYCACHEPREFIX" not in os.environ:
        cache = tempfile.mkdtemp(prefix="auth-stress-pycache-")
        config.stash[_bytecode_cache] = (dont_write, cache)
        del os.environ["PYTHONDONTWRITEBYTECODE"]
        os.environ["PYTHONPYCACHEPREFIX"] = cache


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's bytecode cache and put the environment back as it was."""
    if _bytecode_cache not in config.stash:
        return
    dont_write, cache = config.stash[_bytecode_cache]
    del os.environ["PYTHONPYCACHEPREFIX"]
    os.environ["PYTHONDONTWRITEBYTECODE"] = dont_write
    shutil.rmtree(cache)


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory for child-process logs of this session."""
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def redis_url(log_dir: Path) -> Iterator[str]:
    """``$REDIS_URL`` if set, else a session-wide embedded Redis."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    with RedisProcess(log_path=log_dir / "redis.log") as redis:
        yield redis.url


@pytest.fixture(scope="session")
def server_factory(redis_url: str, log_dir: Path) -> Iterator[ServerFactory]:
    """Cached reference-server processes on the session Redis."""
    factory = ServerFactory(redis_url, log_dir)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="session")
def metadata_less_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A static site with no discovery metadata, started once; yields its base URL."""
    root = tmp_path_factory.mktemp("site")
    port = free_port()
    site = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(base + "/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the metadata-less site never answered") from None
                time.sleep(0.05)
        yield base
    finally:
        site.terminate()
        site.wait(timeout=10)


@pytest.fixture(scope="session")
def certificate_authority() -> Pair:
    """A self-signed certificate for 127.0.0.1 that is also the CA of the client certificates."""
    return issue("auth-stress test")


@pytest.fixture(scope="session")
def cert_files(
    certificate_authority: Pair, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """``certificate_authority`` and its key as PEM files: a server's certificate."""
    return write_pair(certificate_authority, tmp_path_factory.mktemp("tls"), "cert")


@pytest.fixture(scope="session")
def client_cert_files(
    certificate_authority: Pair, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """A client certificate that ``cert_files`` issued, and its key, as PEM files."""
    client = issue("demo-client", certificate_authority)
    return write_pair(client, tmp_path_factory.mktemp("client-tls"), "client")

"""The OAuth behaviour targets (tests/targets/oauth_behaviours) as real processes, for tests.

Why this module exists: tests of the targets and tests of the tester's verdicts on them both
need a target running on a free port, waited for, and stopped afterwards; this is that, once.

Usage: parametrize the ``oauth_target`` fixture indirectly with a ``TargetSpec`` (or a bare
behaviour name); it yields the target's base URL::

    @pytest.mark.parametrize("oauth_target", [TargetSpec("idempotent", grace=1.0)], indirect=True)
    def test_something(oauth_target: str) -> None: ...

The fixture is module-scoped, so the tests of one module that use the same spec share one
process (pytest groups them); ``running_target`` is the same as a context manager, and
``serving`` runs any such test server (the Express-style target uses it too).
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from stress.launcher import free_port

__all__ = ["Https", "TargetSpec", "oauth_target", "running_target", "serving"]

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 20
STOP_SECONDS = 10


@dataclass(frozen=True)
class Https:
    """A target's https: its certificate (``cert``, also the CA it trusts for client
    certificates) and key; with ``client`` (a certificate ``cert`` issued, and its key) it
    wants a client certificate, and ``client`` is what its start-up check presents."""

    cert: Path
    key: Path
    client: tuple[Path, Path] | None = None


@dataclass(frozen=True)
class TargetSpec:
    """A behaviour and the options to start it with (None: the target's default)."""

    behaviour: str
    grace: float | None = None
    replays: int | None = None
    generations: int | None = None
    reuse_revokes: str | None = None
    db_latency: float | None = None
    signing_key_rotates_after: int | None = None
    client_assertion_key: str | None = None  # a PEM public key's file: private_key_jwt
    dpop: bool = False
    dpop_nonce: bool = False
    dpop_nonce_lifetime: float | None = None
    waf_every: int | None = None
    https: Https | None = None

    def argv(self, port: int) -> list[str]:
        argv = [sys.executable, "-m", "tests.targets.oauth_behaviours"]
        argv += ["--behaviour", self.behaviour, "--port", str(port)]
        for flag, value in (
            ("--grace", self.grace),
            ("--replays", self.replays),
            ("--generations", self.generations),
            ("--reuse-revokes", self.reuse_revokes),
            ("--db-latency", self.db_latency),
            ("--signing-key-rotates-after", self.signing_key_rotates_after),
            ("--client-assertion-key", self.client_assertion_key),
            ("--dpop-nonce-lifetime", self.dpop_nonce_lifetime),
            ("--waf-every", self.waf_every),
        ):
            if value is not None:
                argv += [flag, str(value)]
        argv += [
            flag for flag, on in (("--dpop", self.dpop), ("--dpop-nonce", self.dpop_nonce)) if on
        ]
        if self.https is not None:
            argv += ["--ssl-cert", str(self.https.cert), "--ssl-key", str(self.https.key)]
            if self.https.client is not None:
                argv += ["--ssl-client-ca", str(self.https.cert)]
        return argv

    @property
    def id(self) -> str:
        """A short name for test ids and log files."""
        options = (
            self.grace,
            self.replays,
            self.generations,
            self.reuse_revokes,
            self.db_latency,
            self.signing_key_rotates_after,
            self.dpop_nonce_lifetime,
            self.waf_every,
        )
        mtls = self.https is not None and self.https.client is not None
        flags = [name for name, on in (("pkjwt", self.client_assertion_key), ("dpop", self.dpop),
                                       ("nonce", self.dpop_nonce), ("https", self.https),
                                       ("mtls", mtls)) if on]  # fmt: skip
        return "-".join([self.behaviour, *(str(o) for o in options if o is not None), *flags])


@contextmanager
def running_target(spec: TargetSpec, log_path: Path) -> Iterator[str]:
    """Start ``spec`` on a free port, wait for ``/healthz``, yield its URL, then stop it."""
    port = free_port()
    https = spec.https
    with serving(
        spec.argv(port),
        port,
        log_path,
        name=spec.id,
        ca_file=https.cert if https else None,
        client_cert=https.client if https else None,
    ) as url:
        yield url


@contextmanager
def serving(
    argv: list[str],
    port: int,
    log_path: Path,
    *,
    name: str,
    env: dict[str, str] | None = None,
    ca_file: Path | None = None,
    client_cert: tuple[Path, Path] | None = None,
) -> Iterator[str]:
    """Run ``argv`` (a server on 127.0.0.1:``port``) from the repository root, logging to
    ``log_path``; yield its URL once ``/healthz`` answers 200; terminate it (kill if need be).
    With ``ca_file`` the server speaks https, with a certificate that file vouches for; with
    ``client_cert`` too, the check presents that client certificate (and key)."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    url = f"{'https' if ca_file else 'http'}://127.0.0.1:{port}"
    verify: ssl.SSLContext | bool = True
    if ca_file is not None:
        verify = ssl.create_default_context(cafile=ca_file)
        if client_cert is not None:
            verify.load_cert_chain(*client_cert)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1, verify=verify).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{name} did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def oauth_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A running behaviour target (indirect parameter: a ``TargetSpec`` or a behaviour name)."""
    param = request.param
    spec = param if isinstance(param, TargetSpec) else TargetSpec(param)
    log_path = tmp_path_factory.mktemp("oauth-target") / f"{spec.id}.log"
    with running_target(spec, log_path) as url:
        yield url

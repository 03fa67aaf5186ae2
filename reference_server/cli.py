"""Command line of the reference server: parse options, start Redis if needed, run granian.

Why this module exists: ``python -m reference_server`` (and ``auth-stress serve`` through
``stress.launcher``) must start a complete, correctly configured server with one command. Bad
options exit with status 2 and a clear message.

Serving: granian with the ASGI interface and HTTP "auto", so HTTP/1.1 and HTTP/2 cleartext with
prior knowledge both work on one port. Options reach the worker processes as environment
variables (``Settings.to_env``). Without ``--redis-url`` and ``REDIS_URL`` an embedded Redis is
started and stopped with the server. Without ``--signing-key`` the server generates one Ed25519
key for all its workers, kept in memory only (``_generated_key``) for as long as it runs, so
that a JWKS fetched from any worker already lists the key every worker signs with. Replicas on
one Redis verify each other's tokens through the JWKS index they publish there (``keyring``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .embedded_redis import EmbeddedRedis, EmbeddedRedisError
from .lifeline import follow_launcher
from .logs import configure_logging, redact_url
from .redis_link import RedisProbeError, cluster_enabled
from .settings import Settings, SettingsError, Strategy
from .tokens import generate_private_key_pem

__all__ = ["build_parser", "main"]

logger = logging.getLogger("reference_server.cli")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (argparse exits with status 2 on usage errors)."""
    parser = argparse.ArgumentParser(
        prog="python -m reference_server",
        description="Reference OAuth 2.0 refresh-token rotation server (Starlette on granian).",
    )
    add = parser.add_argument
    add(
        "--strategy",
        choices=[s.value for s in Strategy],
        default=Strategy.ATOMIC.value,
        help="concurrency control for refresh and revocation (default: atomic)",
    )
    add("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    add("--port", type=int, default=8000, help="port to bind (default: 8000)")
    add("--workers", type=int, default=1, help="granian worker processes (default: 1)")
    add(
        "--redis-url",
        default=None,
        help="Redis URL (default: $REDIS_URL, else an embedded Redis is started)",
    )
    add(
        "--redis-cluster",
        choices=["auto", "yes", "no"],
        default="auto",
        help="whether the Redis URL names a node of a Redis Cluster; auto asks the node at "
        "start (default: auto)",
    )
    add(
        "--grace",
        type=float,
        default=2.0,
        help="seconds in which the previous refresh token replays the same successor; 0 = strict",
    )
    add(
        "--tolerance",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds after its successor's delivery in which the previous refresh token is "
        "refused without revoking the family, since a request's arrival is stamped late under "
        "load (default: 1)",
    )
    add("--access-ttl", type=int, default=300, help="access token lifetime in seconds")
    add(
        "--refresh-ttl",
        type=int,
        default=86400,
        help="refresh token inactivity lifetime in seconds",
    )
    add(
        "--inject-delay-ms",
        type=int,
        default=0,
        help="TEST ONLY fault: sleep between the decision read and the commit "
        "(naive, local-lock, redis-lock; atomic has no such gap)",
    )
    add(
        "--inject-unpublished-key",
        action="store_true",
        help="TEST ONLY fault: sign access tokens with a key that is never published in the "
        "JWKS (a replica its peers and clients cannot verify)",
    )
    add("--lease-ms", type=int, default=2000, help="redis-lock lease duration in ms")
    add(
        "--lock-wait-ms",
        type=int,
        default=2000,
        help="redis-lock maximum wait for the lease before answering 503",
    )
    add(
        "--issuer",
        default="http://auth-stress.reference",
        help="JWT iss (shared by replicas; default: http://auth-stress.reference)",
    )
    add("--audience", default="auth-stress-api", help="JWT aud (default: auth-stress-api)")
    add(
        "--signing-key",
        default="",
        metavar="PATH",
        help="Ed25519 private key PEM (default: one generated for this server's workers)",
    )
    add(
        "--body-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="time to receive a request body before answering 408 (default: 5)",
    )
    add(
        "--max-concurrent-requests",
        type=int,
        default=1024,
        metavar="N",
        help="requests one worker takes at once; a quarter of them may wait for their bodies, "
        "more get 503 at once (default: 1024)",
    )
    add(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level; info logs one JSON line per request",
    )
    return parser


def _settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    if not 1 <= args.port <= 65535:
        parser.error("--port must be in 1..65535")
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    if args.signing_key and not os.path.isfile(args.signing_key):
        parser.error(f"--signing-key: no such file: {args.signing_key}")
    try:
        return Settings(
            redis_url=args.redis_url or os.environ.get("REDIS_URL") or "embedded",
            strategy=Strategy(args.strategy),
            grace=args.grace,
            tolerance=args.tolerance,
            access_ttl=args.access_ttl,
            refresh_ttl=args.refresh_ttl,
            issuer=args.issuer,
            audience=args.audience,
            inject_delay_ms=args.inject_delay_ms,
            inject_unpublished_key=args.inject_unpublished_key,
            lease_ms=args.lease_ms,
            lock_wait_ms=args.lock_wait_ms,
            signing_key_path=os.path.abspath(args.signing_key) if args.signing_key else "",
            log_level=args.log_level,
            body_timeout=args.body_timeout,
            max_concurrent_requests=args.max_concurrent_requests,
        )
    except SettingsError as exc:
        parser.error(str(exc))


def _cluster_mode(choice: str, settings: Settings) -> bool:
    """``--redis-cluster``: yes, no, or (auto) what the node says; a node that does not
    answer at start is taken for a standalone Redis, with a warning."""
    if choice != "auto":
        return choice == "yes"
    try:
        return cluster_enabled(settings.redis_url, settings.redis_timeout)
    except RedisProbeError as exc:
        logger.warning(
            "cannot ask Redis whether it is a cluster node; assuming it is not "
            "(--redis-cluster yes says it is)",
            extra={"redis_url": redact_url(settings.redis_url), "error": str(exc)},
        )
        return False


@contextlib.contextmanager
def _generated_key() -> Iterator[str]:
    """A fresh signing key for this server's workers; yields the path they read it from.

    On Linux the key lives in a memory-only file of this process (``memfd_create``), which its
    workers open as ``/proc/<pid>/fd/<n>`` (only this user may): it never reaches a disk and
    is gone with the process however the process ends, SIGKILL included. Elsewhere it is a
    file readable by this user only, in a private temporary directory removed on exit.
    """
    pem = generate_private_key_pem()
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("auth-stress-signing-key")
        try:
            os.write(fd, pem)
            yield f"/proc/{os.getpid()}/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="auth-stress-key-") as key_dir:
        path = Path(key_dir) / "signing-key.pem"
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(pem)
        yield str(path)


def _port_in_use(host: str, port: int) -> bool:
    """True when something already listens on ``host:port``.

    granian binds with SO_REUSEPORT, so a second server would start silently and share the
    port, splitting the traffic with a leftover server. A bind without SO_REUSEPORT (but with
    SO_REUSEADDR, so that old connections in TIME_WAIT do not count) fails exactly when a
    listener is there.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT/SIGTERM; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    follow_launcher()
    settings = _settings(parser, args)
    if _port_in_use(args.host, args.port):
        parser.exit(2, f"error: {args.host}:{args.port} is already in use by another server\n")
    configure_logging(settings.log_level)
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    with contextlib.ExitStack() as stack:
        if settings.redis_url == "embedded":
            try:
                redis = stack.enter_context(EmbeddedRedis())
            except EmbeddedRedisError:
                logger.exception("cannot start the embedded Redis")
                return 1
            settings = dataclasses.replace(settings, redis_url=redis.url)
        else:
            cluster = _cluster_mode(args.redis_cluster, settings)
            settings = dataclasses.replace(settings, redis_cluster=cluster)
        if not settings.signing_key_path:
            key_path = stack.enter_context(_generated_key())
            settings = dataclasses.replace(settings, signing_key_path=key_path)
        os.environ.update(settings.to_env())
        logger.info(
            "serving",
            extra={
                "host": args.host,
                "port": args.port,
                "workers": args.workers,
                "strategy": settings.strategy.value,
                "redis_url": redact_url(settings.redis_url),
                "redis_cluster": settings.redis_cluster,
            },
        )
        Granian(
            target="reference_server.app:create_app",
            factory=True,
            address=args.host,
            port=args.port,
            interface=Interfaces.ASGI,
            http=HTTPModes.auto,
            workers=args.workers,
            backpressure=settings.max_concurrent_requests,
            websockets=False,
            log_access=False,
        ).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m tests.targets.oauth_behaviours --behaviour NAME --port PORT``."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields
from pathlib import Path

from .app import BEHAVIOURS, CONFIG_ENV, config_env
from .behaviour import Options


@dataclass(frozen=True)
class Tls:
    """The server's https: its certificate and key, and the CA of the client certificates it
    wants (None: it wants none)."""

    cert: Path
    key: Path
    client_ca: Path | None = None


def parse_args(argv: list[str] | None = None) -> tuple[str, int, Options, Tls | None]:
    parser = argparse.ArgumentParser(
        prog="python -m tests.targets.oauth_behaviours",
        description="A small OAuth 2.0 server with one real refresh-rotation behaviour.",
    )
    parser.add_argument("--behaviour", choices=sorted(BEHAVIOURS), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--grace", type=float, help="grace window in seconds (default 2.0)")
    parser.add_argument("--generations", type=int, help="generations accepted back (default 2)")
    parser.add_argument(
        "--replays", type=int, help="replays accepted inside the window (default: no limit)"
    )
    parser.add_argument(
        "--reuse-revokes",
        choices=["family", "user", "nothing"],
        help="what reuse after the grace window revokes (default family)",
    )
    parser.add_argument(
        "--db-latency",
        type=float,
        help="seconds between a refresh's read and its write (default 0.002)",
    )
    parser.add_argument(
        "--signing-key-rotates-after",
        type=int,
        help="sign access tokens as JWTs, with a new key after this many (default: opaque)",
    )
    parser.add_argument(
        "--client-assertion-key",
        help="PEM public key: demo-client authenticates with private_key_jwt (default: public)",
    )
    parser.add_argument(
        "--dpop",
        action="store_true",
        default=None,
        help="require DPoP proofs and bind every token to the proof's key",
    )
    parser.add_argument(
        "--dpop-nonce",
        action="store_true",
        default=None,
        help="with --dpop: want a server nonce in every proof (use_dpop_nonce until given)",
    )
    parser.add_argument(
        "--dpop-nonce-lifetime",
        type=float,
        help="with --dpop-nonce: new nonces after this many seconds (default: never)",
    )
    parser.add_argument(
        "--waf-every",
        type=int,
        help="a firewall in front blocks every N-th refresh with an HTML 403 (default: none)",
    )
    parser.add_argument("--ssl-cert", type=Path, help="serve https with this certificate")
    parser.add_argument("--ssl-key", type=Path, help="and this key")
    parser.add_argument(
        "--ssl-client-ca", type=Path, help="want a client certificate this CA issued (mutual TLS)"
    )
    args = parser.parse_args(argv)
    if (args.ssl_cert is None) != (args.ssl_key is None):
        parser.error("--ssl-cert and --ssl-key go together")
    if args.ssl_client_ca is not None and args.ssl_cert is None:
        parser.error("--ssl-client-ca needs --ssl-cert")
    if not 1 <= args.port <= 65535:
        parser.error("--port must be in 1..65535")
    given = {f.name: getattr(args, f.name) for f in fields(Options)}
    given = {name: value for name, value in given.items() if value is not None}
    uses = BEHAVIOURS[args.behaviour].uses | {
        "db_latency",
        "signing_key_rotates_after",
        "client_assertion_key",
        "dpop",
        "dpop_nonce",
        "dpop_nonce_lifetime",
        "waf_every",
    }
    for name in sorted(set(given) - uses):
        parser.error(f"--{name.replace('_', '-')} does not apply to {args.behaviour}")
    if given.get("grace", 0) < 0 or given.get("db_latency", 0) < 0:
        parser.error("--grace and --db-latency must be >= 0")
    if given.get("signing_key_rotates_after", 1) < 1:
        parser.error("--signing-key-rotates-after must be >= 1")
    if given.get("dpop_nonce_lifetime", 1) <= 0 or ("dpop_nonce_lifetime" in given and not
                                                      given.get("dpop_nonce")):  # fmt: skip
        parser.error("--dpop-nonce-lifetime must be > 0, with --dpop-nonce")
    if given.get("generations", 1) < 1:
        parser.error("--generations must be >= 1")
    if given.get("replays", 1) < 1:
        parser.error("--replays must be >= 1")
    if given.get("waf_every", 2) < 2:
        parser.error("--waf-every must be >= 2")
    tls = Tls(args.ssl_cert, args.ssl_key, args.ssl_client_ca) if args.ssl_cert else None
    return args.behaviour, args.port, Options(**given), tls


def main() -> None:
    behaviour, port, options, tls = parse_args()
    from granian import Granian
    from granian.constants import Interfaces

    os.environ[CONFIG_ENV] = config_env(behaviour, options)
    Granian(
        "tests.targets.oauth_behaviours.app:create_app",
        factory=True,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        websockets=False,
        log_access=False,
        ssl_cert=tls.cert if tls else None,
        ssl_key=tls.key if tls else None,
        ssl_ca=tls.client_ca if tls else None,
        ssl_client_verify=bool(tls and tls.client_ca),
    ).serve()


if __name__ == "__main__":
    main()

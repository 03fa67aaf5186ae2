"""Benchmark: the run path's own CPU per op, without a network, server or other process.

Why this script exists: ``run_path.py`` measures the whole op against a real server on a
shared machine, where the bare engine's cost and the load of the moment move every figure by
tens of microseconds. This one takes the engine and the server out: one session drives the
load step's mix (refresh 2 : use 3) through the run path's own code (``Actions``, the
``Recorder``, fingerprints, claims, a ``History`` streamed to a JSONL file and written once per
turn of the loop, as ``auth-stress run`` does), but every request is answered at once from
answers built beforehand: real token responses with distinct Ed25519-signed access tokens and
refresh tokens, as the reference server sends them. So the figures are what recording costs
per op, with and without signature checks, and beside them what its parts cost alone (the
Ed25519 check, reading a token's claims, a fingerprint).

Usage::

    .venv/bin/python benchmarks/run_path_offline.py [--ops 20000] [--rounds 3] [--source DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, os.environ.get("RUN_PATH_BENCH_SOURCE") or str(Path(__file__).parent.parent))

import jwt  # after the path is set, as every import below
import msgspec
import nacl.bindings
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from stress.claims import ClaimReader
from stress.drive.actions import Actions
from stress.drive.recorder import Recorder
from stress.drive.session import SessionState
from stress.fingerprint import Fingerprinter
from stress.history import Header, History
from stress.policy import Policy
from stress.scenario import RunSpec, TargetSpec
from stress.target import Endpoints, TargetProfile
from stress.wire import BurstResult, WireOutcome, WireRequest, WireResponse

__all__ = ["main"]

BASE = "http://127.0.0.1:9"
MIX = ("refresh", "refresh", "use", "use", "use")
HEADERS = (
    ("date", "Wed, 02 Dec 2026 10:00:00 GMT"),
    ("server", "granian"),
    ("content-type", "application/json"),
    ("cache-control", "no-store"),
    ("content-length", "512"),
)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Canned:
    """A wire that answers every request at once: the next token response, or a use's 200."""

    def __init__(self, refreshes: list[WireOutcome], use: WireOutcome) -> None:
        self._refreshes = iter(refreshes)
        self._use = use

    async def request(self, req: WireRequest, *, timeout: float) -> WireOutcome:  # noqa: ASYNC109
        return next(self._refreshes) if req.method == "POST" else self._use

    async def burst(
        self,
        reqs: Sequence[WireRequest],
        *,
        engine: str,
        timeout: float,  # noqa: ASYNC109 (the runner's contract names it)
    ) -> BurstResult:
        raise NotImplementedError("a load step sends no bursts")

    def last_connected(self, url: str) -> int | None:
        """No connection is ever refused here, so none is asked about."""
        return None


def _answers(key: Ed25519PrivateKey, count: int) -> list[WireOutcome]:
    """``count`` token responses, each with its own signed access token and refresh token."""
    request = WireRequest("POST", f"{BASE}/oauth/token")
    now = int(time.time())
    made = []
    for _ in range(count):
        claims = {"sub": "user0", "sid": secrets.token_hex(8), "jti": secrets.token_hex(16),
                  "iat": now, "nbf": now, "exp": now + 300}  # fmt: skip
        access = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1"})
        body = {"access_token": access, "refresh_token": secrets.token_urlsafe(32),
                "token_type": "Bearer", "expires_in": 300}  # fmt: skip
        answer = WireResponse(200, HEADERS, msgspec.json.encode(body), "HTTP/1.1")
        made.append(WireOutcome(request, answer, 1, 2, True))
    return made


def _history(sink: Any, loop: asyncio.AbstractEventLoop) -> History:
    header = Header(scenario="offline", policy=Policy(), targets=[BASE], seed=1, started_unix=0)
    try:
        return History(header, sink, retain=False, defer=loop.call_soon)
    except TypeError:  # a checkout from before writes were batched per turn of the loop
        return History(header, sink, retain=False)


async def _drive(ops: int, key: Ed25519PrivateKey, verify: bool, folder: Path) -> float:
    """Tester CPU per op (us) of ``ops`` load ops of one session, answers built beforehand."""
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**jwk, "kid": "k1", "alg": "EdDSA", "use": "sig"}]}
    refreshes = _answers(key, ops * MIX.count("refresh") // len(MIX) + 2)
    answer = WireResponse(200, HEADERS, b"{}", "HTTP/1.1")
    use = WireOutcome(WireRequest("GET", f"{BASE}/api/me"), answer, 1, 2, True)
    spec = msgspec.convert({"kind": "oauth2", "client_id": "demo-client"}, type=TargetSpec)
    profile = TargetProfile(spec, Endpoints("/oauth/token", None, "/jwks", "/api/me"))
    loop = asyncio.get_running_loop()
    with (folder / "history.jsonl").open("wb", buffering=0) as sink:
        history = _history(sink, loop)
        fp = Fingerprinter()
        recorder = Recorder(history, fp, ClaimReader(jwks if verify else None), max_ops=ops + 1,
                            planned=0)  # fmt: skip
        wire = _Canned(refreshes[1:], use)
        actions = Actions(recorder, wire, profile, [BASE], RunSpec(), lambda why: None)
        state = SessionState(0, [], keep=2)
        first = profile.parse_tokens(refreshes[0].response)  # type: ignore[arg-type]
        assert first.tokens is not None
        state.start_family(first.tokens.refresh, first.tokens.access, fp)
        cpu = _cpu()
        for i in range(ops):
            if MIX[i % len(MIX)] == "refresh":
                await actions.refresh_once(state)
            else:
                await actions.use_once(state)
        await asyncio.sleep(0)  # the last turn's records are written
        cpu = _cpu() - cpu
        getattr(history, "flush", lambda: None)()
    return cpu / ops * 1e6


def _alone(run: Callable[[], object], count: int) -> float:
    """CPU per call (us) of ``run`` called ``count`` times."""
    cpu = _cpu()
    for _ in range(count):
        run()
    return (_cpu() - cpu) / count * 1e6


def _parts(key: Ed25519PrivateKey) -> dict[str, float]:
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**jwk, "kid": "k1", "alg": "EdDSA", "use": "sig"}]}
    tokens = [jwt.encode({"sub": "u", "jti": secrets.token_hex(16)}, key, algorithm="EdDSA",
                         headers={"kid": "k1"}) for _ in range(2000)]  # fmt: skip
    signed, _, signature = tokens[0].rpartition(".")
    raw = jwt.utils.base64url_decode(signature)
    public = key.public_key()
    message = signed.encode()
    raw_public = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    _alone(lambda: public.verify(raw, message), 200)  # warm-up
    figures = {
        "Ed25519 verify (cryptography, OpenSSL)": _alone(lambda: public.verify(raw, message), 2000),
        "Ed25519 verify (PyNaCl, libsodium)": _alone(
            lambda: nacl.bindings.crypto_sign_open(raw + message, raw_public), 2000
        ),
    }
    for name, reader in (("verified", ClaimReader(jwks)), ("unverified", ClaimReader())):
        new = map(reader.read, tokens)  # each call reads the next token, once
        figures[f"claims of a new token, {name}"] = _alone(new.__next__, len(tokens))
    fp = Fingerprinter()
    fresh = iter(tokens)
    figures["fingerprint of a new token"] = _alone(lambda: fp(next(fresh)), 2000)
    figures["fingerprint of a token seen"] = _alone(lambda: fp(tokens[0]), 2000)
    return figures


def main() -> None:
    """Parse the arguments and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source", help="measure the run path of this checkout instead")
    args = parser.parse_args()
    if args.source and os.environ.get("RUN_PATH_BENCH_SOURCE") != args.source:
        os.environ["RUN_PATH_BENCH_SOURCE"] = args.source
        os.execv(sys.executable, [sys.executable, __file__, *sys.argv[1:]])
    key = Ed25519PrivateKey.generate()
    load_before = os.getloadavg()
    rows: dict[str, list[float]] = {"run path": [], "run path, unverified": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            for name, verify in (("run path", True), ("run path, unverified", False)):
                rows[name].append(asyncio.run(_drive(args.ops, key, verify, Path(folder))))
    parts = _parts(key)
    source = args.source or "this checkout"
    print(f"machine: {platform.machine()}, nproc {os.cpu_count()}, load average "
          f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; {args.ops:,} ops per "
          f"round, {args.rounds} round(s); run path of {source}")  # fmt: skip
    print()
    print("| what | tester CPU us per op (each round) | median |")
    print("|---|---|---|")
    for name, per_op in rows.items():
        shown = ", ".join(f"{v:.1f}" for v in per_op)
        print(f"| {name} | {shown} | {statistics.median(per_op):.1f} |")
    print()
    print("| part, alone | us per call |")
    print("|---|---|")
    for name, value in parts.items():
        print(f"| {name} | {value:.1f} |")


if __name__ == "__main__":
    main()

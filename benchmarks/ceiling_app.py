"""The reference server's token endpoint without Redis: the ceiling of any refresh on this stack.

Why this module exists: a strategy's refresh throughput is judged against what the same stack
reaches without a store. This app keeps everything a refresh does except the store: the same
granian and Starlette, the same middleware-free route shape as ``/healthz``, the form read
(``reference_server.oauth.BodyReader``), a fresh refresh token, an access token signed with the
reference server's Ed25519 code, and the same response body and headers. What it reaches beside
its own ``/healthz`` bounds what any Redis-backed strategy can reach on the same machine. Served
by ``benchmarks/reference_server.py --strategies ceiling``; never used by the project.
"""

from __future__ import annotations

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reference_server.oauth import BodyReader
from reference_server.tokens import (
    SigningKey,
    generate_private_key_pem,
    new_family_id,
    new_refresh_token,
    parse_refresh_token,
)

_KEY = SigningKey.from_pem(generate_private_key_pem())
_BODIES = BodyReader(limit=8192, timeout_s=5.0, max_waiting=256)  # the server's defaults


async def token(request: Request) -> Response:
    """Password or refresh grant, answered without any state."""
    form = await _BODIES.read_form(request)
    family = parse_refresh_token(form.fields.get("refresh_token", "")) or new_family_id()
    access = _KEY.issue(
        subject="user1",
        family_id=family,
        scope="api",
        client_id="demo-client",
        ttl=300,
        issuer="http://auth-stress.reference",
        audience="auth-stress-api",
    )
    body = {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": 300,
        "refresh_token": new_refresh_token(family),
        "scope": "api",
    }
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", "X-Arrival-Ns": "0"}
    return Response(msgspec.json.encode(body), headers=headers, media_type="application/json")


async def healthz(request: Request) -> Response:
    """The same baseline as the reference server's."""
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/oauth/token", token, methods=["POST"]), Route("/healthz", healthz)])

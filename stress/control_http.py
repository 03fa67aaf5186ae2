"""The control plane's HTTP client (discovery, probes, the JWKS): httpx, connecting directly.

Why not httpx's defaults: httpx sends its requests through ``HTTP_PROXY``, ``HTTPS_PROXY`` or
``ALL_PROXY`` when the environment sets them, while the socket-level burst engine connects to the
target itself, as it must (a proxy between would rewrite the timing every burst depends on). In
a shell or CI job with a proxy set, discovery then went through the proxy, which cannot reach a
server on 127.0.0.1 or an internal host, while the bursts went direct. Every client here
connects directly too; how it checks certificates is :mod:`stress.http_tls`'s.

A TLS alert that comes after the handshake, as a TLS 1.3 server refuses a client without the
certificate it wants (mutual TLS), leaves httpcore's anyio backend as a bare ``ssl.SSLError``,
where every caller handles ``httpx.HTTPError``: an unreachable target's error became an
internal one with a traceback. The transport here makes it the read error it is.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence

import httpx

from stress.http_tls import Verify, tls_failure

__all__ = ["control_client"]


class _Transport(httpx.AsyncHTTPTransport):
    """httpx's transport, with a TLS alert read from the server raised as ``httpx.ReadError``."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ssl.SSLError as exc:
            raise httpx.ReadError(tls_failure(exc), request=request) from exc


def control_client(
    *, timeout: float, verify: Verify, headers: Sequence[tuple[str, str]] = ()
) -> httpx.AsyncClient:
    """An httpx client for the target that ignores proxy settings in the environment."""
    transport = _Transport(verify=verify, trust_env=False)
    return httpx.AsyncClient(timeout=timeout, headers=headers, trust_env=False, transport=transport)

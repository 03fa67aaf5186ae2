"""The control plane's HTTP client (discovery, probes, the JWKS): httpx, connecting directly.

Why not httpx's defaults: httpx sends its requests through ``HTTP_PROXY``, ``HTTPS_PROXY`` or
``ALL_PROXY`` when the environment sets them, while the socket-level burst engine connects to the
target itself, as it must (a proxy between would rewrite the timing every burst depends on). In
a shell or CI job with a proxy set, discovery then went through the proxy, which cannot reach a
server on 127.0.0.1 or an internal host, while the bursts went direct. Every client here
connects directly too; how it checks certificates is :mod:`stress.http_tls`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from stress.http_tls import Verify

__all__ = ["control_client"]


def control_client(
    *, timeout: float, verify: Verify, headers: Sequence[tuple[str, str]] = ()
) -> httpx.AsyncClient:
    """An httpx client for the target that ignores proxy settings in the environment."""
    return httpx.AsyncClient(timeout=timeout, verify=verify, headers=headers, trust_env=False)

"""The wire-level HTTP client and its sync engines (the tester's data plane).

Built on raw non-blocking sockets driven by anyio, h11 and h2 (no httpx here): HTTP/1.1 with
keep-alive, HTTP/2 (prior knowledge for http://, ALPN for https://), TLS with a CA file or an
explicit insecure switch, and burst engines ``none``, ``barrier``, ``last-byte``,
``single-packet`` and ``auto``. See :class:`WireClient`.
"""

from __future__ import annotations

from stress.wire._client import ClientStatistics, WireClient
from stress.wire._models import (
    ENGINES,
    BurstResult,
    Engine,
    ErrorClass,
    HTTP2Mode,
    WireOutcome,
    WireRequest,
    WireResponse,
    build_request,
)
from stress.wire._protocol import Wire
from stress.wire._runtime import backend_options, run
from stress.wire.scripted import ScriptedError, ScriptedWire

__all__ = [
    "ENGINES",
    "BurstResult",
    "ClientStatistics",
    "Engine",
    "ErrorClass",
    "HTTP2Mode",
    "ScriptedError",
    "ScriptedWire",
    "Wire",
    "WireClient",
    "WireOutcome",
    "WireRequest",
    "WireResponse",
    "backend_options",
    "build_request",
    "run",
]

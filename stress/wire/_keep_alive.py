"""How long an idle HTTP/1.1 connection may wait for its next request: the server's hint.

A server closes a keep-alive connection that has been idle past its timeout, and a request
sent just as it does is lost with the connection: a reset before any answer, indeterminate, and
the session that sent it is retired. Node.js closes after about 6 s idle and says so with
``Keep-Alive: timeout=5``; Apache sends ``Keep-Alive: timeout=5, max=100``. Measured against
Node 20: of 7 requests each sent on a connection idle for 6 s, one failed with a reset. A client
that honours the hint with a margin, as undici does (its ``keepAliveTimeoutThreshold``, 1 s),
never sends into that race.
"""

from __future__ import annotations

__all__ = ["MARGIN_S", "idle_limit"]

MARGIN_S = 1.0
"""How long before the hinted timeout a connection stops being reused."""


def idle_limit(value: str) -> float | None:
    """Seconds a connection may stay idle after a response with ``Keep-Alive: value`` (0 or
    less: do not reuse it), or None when the value gives no timeout."""
    for part in value.split(","):
        name, _, number = part.partition("=")
        if name.strip().lower() == "timeout":
            seconds = number.strip()
            return int(seconds) - MARGIN_S if seconds.isdigit() else None
    return None

"""Outermost ASGI middleware: request ids, one JSON log line per request, last-resort 500.

Why this module exists: every request must leave exactly one structured log line (request id,
method, path, status, strategy, outcome, family fingerprint, lock wait) and no exception may
escape to the ASGI server as a bare crash: anything unexpected is logged with its traceback and
answered with a JSON 500, which then marks a real bug.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import Metrics

__all__ = ["LOG_SCOPE_KEY", "QUIET_KEY", "RequestLogMiddleware", "access_log_enabled"]

LOG_SCOPE_KEY = "auth_ref_log"
# A field of the access line that asks for it at debug rather than info.
QUIET_KEY = "quiet"
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")  # full matches only
_KNOWN_PATHS = frozenset(
    {
        "/oauth/token",
        "/oauth/revoke",
        "/api/me",
        "/healthz",
        "/metrics",
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server",
    }
)
logger = logging.getLogger("reference_server.access")


def access_log_enabled() -> bool:
    """True when the per-request line is written (level info or lower): callers skip building
    its fields otherwise."""
    return logger.isEnabledFor(logging.INFO)


class RequestLogMiddleware:
    """Assigns ``X-Request-Id``, logs each request once and turns escapes into JSON 500s."""

    def __init__(self, app: ASGIApp, *, strategy: str, metrics: Metrics) -> None:
        self.app = app
        self.strategy = strategy
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        fields: dict[str, Any] = {}
        scope[LOG_SCOPE_KEY] = fields
        status = 0
        head = scope["method"] == "HEAD"

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            elif head and message.get("body"):  # a HEAD response has no body, even over h2
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            fields.setdefault("outcome", "internal_error")
            logger.exception(
                "unhandled error",
                extra={"request_id": request_id, "path": scope["path"], "error_type": type(exc)},
            )
            if status == 0:
                status = 500
                await _send_500(send, request_id)
        path = scope["path"] if scope["path"] in _KNOWN_PATHS else "other"
        self.metrics.inc("auth_ref_requests_total", path=path, status=str(status))
        level = logging.DEBUG if fields.pop(QUIET_KEY, False) else logging.INFO
        if logger.isEnabledFor(level):
            logger.log(
                level,
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "strategy": self.strategy,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    **fields,
                },
            )


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _REQUEST_ID_RE.fullmatch(candidate):
                return candidate
    return secrets.token_hex(8)


async def _send_500(send: Send, request_id: str) -> None:
    body = json.dumps(
        {"error": "server_error", "error_description": "internal error", "request_id": request_id}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""OAuth 2.0 protocol plumbing: bounded form reading, client authentication, RFC 6749 errors.

Why this module exists: the endpoints in ``app`` should read as policy, while the rules about
content types, body limits, duplicate parameters, client credentials and error bodies live
here, once, so that every malformed request gets a 4xx and never a 5xx.

A body is bounded in size, in time (408 when it has not arrived within the body timeout) and in
company: at most a quarter of the requests the server takes at once may be waiting for their
bodies, and a request that would exceed that gets 503 at once. So connections that send a body
slowly, or never, cannot take every request slot and stall the server (``/healthz`` included).
A body that breaks off (the client hung up, or sent a malformed chunk) gets 400 and a debug
line, not a 500.

Demo clients: ``demo-client`` is public (``client_id`` in the body, or nothing: a request with
no client identification is treated as ``demo-client``); ``demo-confidential`` with secret
``secret`` authenticates with ``client_secret_basic`` (or ``client_secret_post``).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = [
    "CONFIDENTIAL_CLIENTS",
    "DEFAULT_CLIENT",
    "PUBLIC_CLIENTS",
    "BodyReader",
    "Form",
    "OAuthError",
    "authenticate_client",
    "error_response",
]

DEFAULT_CLIENT = "demo-client"
PUBLIC_CLIENTS = frozenset({DEFAULT_CLIENT})
CONFIDENTIAL_CLIENTS = {"demo-confidential": "secret"}
_FORM_TYPE = "application/x-www-form-urlencoded"
_MAX_FIELDS = 32


@dataclass
class OAuthError(Exception):
    """An RFC 6749 §5.2 error; ``headers`` carries WWW-Authenticate or Retry-After; ``quiet``
    requests are logged at debug (a body that broke off is the client's business)."""

    status: int
    error: str
    description: str
    headers: dict[str, str] = field(default_factory=dict)
    quiet: bool = False

    def __str__(self) -> str:
        return f"{self.status} {self.error}: {self.description}"


@dataclass(frozen=True, slots=True)
class Form:
    """A parsed form body and when the whole body had arrived: monotonic ns (comparable
    within one host, for ``X-Arrival-Ns``) and wall-clock ms (for the grace window)."""

    fields: dict[str, str]
    arrival_ns: int
    arrival_ms: int


def error_response(exc: OAuthError, extra_headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error body with ``Cache-Control: no-store``."""
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers}
    if extra_headers:
        headers.update(extra_headers)
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=exc.status, headers=headers)


class BodyReader:
    """Reads bounded urlencoded bodies for one server process.

    Usage::

        reader = BodyReader(limit=8192, timeout_s=5.0, max_waiting=256)
        form = await reader.read_form(request)
    """

    def __init__(self, *, limit: int, timeout_s: float, max_waiting: int) -> None:
        self._limit = limit
        self._timeout_s = timeout_s
        self._max_waiting = max_waiting
        self._waiting = 0

    async def read_form(self, request: Request) -> Form:
        """The form of ``request``: 413 when too large, 408 when too slow, 503 when too many
        bodies are awaited already, 400 invalid_request when malformed or broken off."""
        limit = self._limit
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise OAuthError(400, "invalid_request", "malformed Content-Length")
            if int(declared) > limit:
                raise OAuthError(413, "invalid_request", f"body larger than {limit} bytes")
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != _FORM_TYPE:
            raise OAuthError(400, "invalid_request", f"Content-Type must be {_FORM_TYPE}")
        if self._waiting >= self._max_waiting:
            raise OAuthError(
                503,
                "temporarily_unavailable",
                "too many request bodies awaited; retry later",
                {"Retry-After": "1", "Connection": "close"},
            )
        self._waiting += 1
        try:
            async with asyncio.timeout(self._timeout_s):
                body = await _body(request, limit)
        except TimeoutError as exc:
            raise OAuthError(
                408,
                "invalid_request",
                f"request body not received within {self._timeout_s:g} s",
                {"Connection": "close"},
            ) from exc
        finally:
            self._waiting -= 1
        arrival_ns = time.monotonic_ns()
        arrival_ms = time.time_ns() // 1_000_000
        try:
            pairs = _parse_form(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise OAuthError(400, "invalid_request", "malformed form body") from exc
        fields: dict[str, str] = {}
        for key, value in pairs:
            if key in fields:
                raise OAuthError(400, "invalid_request", f"parameter {key!r} repeated")
            fields[key] = value
        return Form(fields, arrival_ns, arrival_ms)


async def _body(request: Request, limit: int) -> bytes:
    # The ASGI messages directly: Request.stream()'s async generator costs more than the read.
    body = b""
    more = True
    while more:
        message = await request.receive()
        if message["type"] == "http.disconnect":  # hung up, or a malformed chunk
            close = {"Connection": "close"}
            raise OAuthError(400, "invalid_request", "request body incomplete", close, quiet=True)
        if message["type"] != "http.request":
            continue
        body += message.get("body", b"")
        if len(body) > limit:
            raise OAuthError(413, "invalid_request", f"body larger than {limit} bytes")
        more = message.get("more_body", False)
    return body


def _parse_form(text: str) -> list[tuple[str, str]]:
    """``parse_qsl(strict, keep blanks, at most _MAX_FIELDS)``, without its cost when nothing is
    escaped (token requests usually are not: base64url tokens need no escaping)."""
    if "%" in text or "+" in text:
        return parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, max_num_fields=_MAX_FIELDS
        )
    if not text:
        return []
    parts = text.split("&")
    if len(parts) > _MAX_FIELDS:
        raise ValueError("Max number of fields exceeded")
    pairs: list[tuple[str, str]] = []
    for part in parts:
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"bad query field: {part!r}")
        pairs.append((name, value))
    return pairs


def _invalid_client(description: str) -> OAuthError:
    return OAuthError(
        401, "invalid_client", description, {"WWW-Authenticate": 'Basic realm="auth-stress"'}
    )


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise _invalid_client("unsupported Authorization scheme at the token endpoint")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError as exc:  # not base64 (or not ASCII at all), or not UTF-8 inside
        raise _invalid_client("malformed Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise _invalid_client("malformed Basic credentials")
    return unquote(client_id), unquote(secret)


def authenticate_client(request: Request, form: dict[str, str]) -> str:
    """The authenticated client id (RFC 6749 §2.3); raises 401 invalid_client on failure."""
    header = request.headers.get("authorization")
    if header is not None:
        client_id, secret = _basic_credentials(header)
        if form.get("client_id", client_id) != client_id:
            raise OAuthError(400, "invalid_request", "client_id differs from Basic credentials")
    else:
        client_id = form.get("client_id", DEFAULT_CLIENT)
        secret = form.get("client_secret", "")
    if client_id in PUBLIC_CLIENTS:
        return client_id
    expected = CONFIDENTIAL_CLIENTS.get(client_id)
    if expected is None or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise _invalid_client("unknown client or bad credentials")
    return client_id

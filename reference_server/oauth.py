"""OAuth 2.0 protocol plumbing: bounded form reading, client authentication, RFC 6749 errors.

Why this module exists: the endpoints in ``app`` should read as policy, while the rules about
content types, body limits, duplicate parameters, client credentials and error bodies live
here, once, so that every malformed request gets a 4xx and never a 5xx.

Demo clients: ``demo-client`` is public (``client_id`` in the body, or nothing: a request with
no client identification is treated as ``demo-client``); ``demo-confidential`` with secret
``secret`` authenticates with ``client_secret_basic`` (or ``client_secret_post``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

__all__ = [
    "CONFIDENTIAL_CLIENTS",
    "DEFAULT_CLIENT",
    "PUBLIC_CLIENTS",
    "Form",
    "OAuthError",
    "authenticate_client",
    "error_response",
    "read_form",
]

DEFAULT_CLIENT = "demo-client"
PUBLIC_CLIENTS = frozenset({DEFAULT_CLIENT})
CONFIDENTIAL_CLIENTS = {"demo-confidential": "secret"}
_FORM_TYPE = "application/x-www-form-urlencoded"
_MAX_FIELDS = 32


@dataclass
class OAuthError(Exception):
    """An RFC 6749 §5.2 error; ``headers`` carries WWW-Authenticate or Retry-After."""

    status: int
    error: str
    description: str
    headers: dict[str, str] = field(default_factory=dict)

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


async def read_form(request: Request, limit: int) -> Form:
    """Read a bounded urlencoded body; 413 when too large, 400 invalid_request otherwise."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise OAuthError(400, "invalid_request", "malformed Content-Length")
        if int(declared) > limit:
            raise OAuthError(413, "invalid_request", f"body larger than {limit} bytes")
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _FORM_TYPE:
        raise OAuthError(400, "invalid_request", f"Content-Type must be {_FORM_TYPE}")
    # The ASGI messages directly: Request.stream()'s async generator costs more than the read.
    body = b""
    more = True
    while more:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] != "http.request":
            continue
        body += message.get("body", b"")
        if len(body) > limit:
            raise OAuthError(413, "invalid_request", f"body larger than {limit} bytes")
        more = message.get("more_body", False)
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
    except (binascii.Error, UnicodeDecodeError) as exc:
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

"""The values that cross the wire client's boundary: requests in, outcomes out.

They are frozen dataclasses with no behaviour, so the runner can record them without knowing
anything about sockets. An :class:`Origin` is the key of the connection pool: one per
``scheme://host:port``, which is also what a server replica is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal
from urllib.parse import urlsplit

from stress.types import ENGINES, Engine

__all__ = [
    "ENGINES",
    "BurstResult",
    "Engine",
    "ErrorClass",
    "HTTP2Mode",
    "Origin",
    "WireOutcome",
    "WireRequest",
    "WireResponse",
    "build_request",
    "completed",
    "response",
    "split_url",
]

HTTP2Mode = Literal["auto", "never", "always"]
ErrorClass = Literal["connect", "tls", "timeout", "reset", "protocol", "refused"]
"""Short error classes. ``connect``, ``tls`` and ``refused`` come with ``sent=False``: ``refused``
is an HTTP/2 stream the server promised it never processed (REFUSED_STREAM, or above the
GOAWAY last-stream-id), which is as certain a non-effect as a refused TCP connection."""


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request; ``url`` is absolute (``http(s)://host:port/path?query``)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class WireResponse:
    """A complete response. Header names are lower-case; repeated headers (Set-Cookie) are kept."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    http_version: str

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None


@dataclass(frozen=True)
class WireOutcome:
    """What happened to one request, in the terms the history needs.

    ``send_ns`` is ``time.monotonic_ns()`` when the request's final byte was handed to the kernel
    (0 when it never was); ``recv_ns`` when the response completed or the error happened.
    ``sent`` is False only when the server certainly did not see the request (connect or TLS
    failure, refused stream): the runner records ``fail``. An error with ``sent=True`` is ``info``.
    """

    request: WireRequest
    response: WireResponse | None
    send_ns: int
    recv_ns: int
    sent: bool
    error: ErrorClass | None = None
    error_detail: str | None = None


_new = object.__new__


def response(
    status: int, headers: tuple[tuple[str, str], ...], body: bytes, http_version: str
) -> WireResponse:
    """``WireResponse(status, headers, body, http_version)``, built for the sustained path.

    Why: a frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``,
    measured at about 1.5 us per object, a tenth of a request's client CPU on the keep-alive
    path. Filling the instance dict directly gives an equal object in a fifth of the time; these
    classes have no ``__slots__`` and no ``__post_init__``, and a test compares both ways.
    """
    made: WireResponse = _new(WireResponse)
    fields = made.__dict__
    fields["status"] = status
    fields["headers"] = headers
    fields["body"] = body
    fields["http_version"] = http_version
    return made


def build_request(
    method: str, url: str, headers: tuple[tuple[str, str], ...] = (), body: bytes = b""
) -> WireRequest:
    """``WireRequest(method, url, headers, body)``, built as :func:`response` is: the run path
    builds one for every refresh and use it sends."""
    made: WireRequest = _new(WireRequest)
    fields = made.__dict__
    fields["method"] = method
    fields["url"] = url
    fields["headers"] = headers
    fields["body"] = body
    return made


def completed(
    request: WireRequest, answer: WireResponse, send_ns: int, recv_ns: int
) -> WireOutcome:
    """``WireOutcome(request, answer, send_ns, recv_ns, True)``, built as :func:`response` is."""
    made: WireOutcome = _new(WireOutcome)
    fields = made.__dict__
    fields["request"] = request
    fields["response"] = answer
    fields["send_ns"] = send_ns
    fields["recv_ns"] = recv_ns
    fields["sent"] = True
    fields["error"] = None
    fields["error_detail"] = None
    return made


@dataclass(frozen=True)
class BurstResult:
    """The outcomes of one burst, in request order, and how the burst was released."""

    outcomes: list[WireOutcome]
    engine: str
    release_spread_ns: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Origin:
    """``scheme://host:port``: the unit of connection pooling (one per server replica)."""

    scheme: Literal["http", "https"]
    host: str
    port: int

    @cached_property
    def authority(self) -> str:
        """The Host / :authority value, without the port when it is the scheme's default."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}"


def split_url(url: str) -> tuple[Origin, str]:
    """Split an absolute URL into its origin and its request target (path plus query)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    scheme: Literal["http", "https"] = "https" if parts.scheme == "https" else "http"
    port = parts.port or (443 if scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return Origin(scheme, parts.hostname, port), target

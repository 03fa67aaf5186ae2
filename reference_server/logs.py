"""One-line JSON logs for the reference server.

Why this module exists: the server is a measurement instrument, so its logs must be machine
readable (one JSON object per line, with request id, strategy, outcome, family fingerprint and
lock wait) and must serialise every exception fully (type, message, traceback). Nothing here
ever receives a raw token: callers pass fingerprints, and URLs go through ``redact_url``.

At the default level every request logs a line, so the line is made cheaply: msgspec encodes
it, the timestamp's seconds are formatted once per second, and the record skips the fields the
JSON never shows (caller frame, thread and process names), about 10 us per line saved.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

__all__ = ["JsonFormatter", "configure_logging", "redact_url"]

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}
# Anything msgspec cannot encode is written as its str(), like json.dumps(default=str).
_ENCODER = msgspec.json.Encoder(enc_hook=str)


class JsonFormatter(logging.Formatter):
    """Render a record and its ``extra`` fields as one JSON line."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            payload["error_type"] = record.exc_info[0].__qualname__
            payload["error"] = str(record.exc_info[1])
            payload["traceback"] = self.formatException(record.exc_info)
        return _ENCODER.encode(payload).decode()


def configure_logging(level: str) -> None:
    """Send every logger's records to stderr as JSON lines at ``level``.

    The JSON shows neither the caller's file and line nor thread or process names, so records
    do not collect them (the logging HOWTO's "Optimization" switches).
    """
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def redact_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``: the form a URL is logged in."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL (a bad port, say): nothing to find a password in
        return url
    if not password:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))

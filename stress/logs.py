"""Structured logging for the tester: one JSON object per line on stderr (or a file).

Errors carry their type, message and traceback as fields, so a CI log can be searched and a
crash is never reduced to a bare message. The console report stays on stdout, apart from logs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["LEVELS", "JsonFormatter", "setup_logging"]

LEVELS = ("debug", "info", "warning", "error")

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# Protocol libraries log headers and URLs at debug/info level, and those carry tokens (cookies,
# Authorization, query strings). They are held at warning whatever --log-level says.
_CHATTY = ("hpack", "h2", "h11", "httpcore", "httpx")


class JsonFormatter(logging.Formatter):
    """Formats a record and its ``extra`` fields as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            entry["error_type"] = type(exc).__name__
            entry["error"] = str(exc)
            entry["traceback"] = "".join(traceback.format_exception(exc))
        return json.dumps(entry, default=str)


def setup_logging(level: str = "warning", file: Path | None = None) -> None:
    """Route every logger of the process through the JSON formatter."""
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))

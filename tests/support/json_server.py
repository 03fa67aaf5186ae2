"""A tiny JSON server on 127.0.0.1 in a thread of the test, for behaviours no target has.

Usage::

    with json_server(lambda method, path: (400, {"error": "unsupported_grant_type"})) as url:
        ...
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Answer", "json_server"]

Answer = Callable[[str, str, str], tuple[int, Any]]
"""(method, path, base URL) -> (status, JSON document)."""


@contextmanager
def json_server(answer: Answer) -> Iterator[str]:
    """Serve ``answer`` for every GET and POST; yield the base URL; stop at the end."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            status, document = answer(self.command, self.path, base)
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _reply

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests read the tester's output, not this server's."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

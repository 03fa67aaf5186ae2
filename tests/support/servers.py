"""Reference-server processes for tests, started on demand and cached by configuration.

Starting servers is the slow part of the suite, so the ``server_factory`` fixture (see
tests/conftest.py) hands out cached processes; at most ``max_running`` stay alive at once.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from stress.launcher import ServerProcess

__all__ = ["ServerFactory"]


class ServerFactory:
    """Starts reference servers on demand and caches them by configuration."""

    max_running = 6

    def __init__(self, redis_url: str, log_dir: Path) -> None:
        self.redis_url = redis_url
        self.log_dir = log_dir
        self._servers: OrderedDict[tuple[object, ...], ServerProcess] = OrderedDict()

    def __call__(
        self,
        strategy: str,
        *,
        replica: str = "a",
        grace: float = 1.0,
        workers: int = 1,
        extra_args: Sequence[str] = (),
        redis_url: str | None = None,
    ) -> ServerProcess:
        url = redis_url or self.redis_url
        key = (strategy, replica, grace, workers, tuple(extra_args), url)
        server = self._servers.get(key)
        if server is not None and server.running:
            self._servers.move_to_end(key)
            return server
        while len(self._servers) >= self.max_running:
            _, oldest = self._servers.popitem(last=False)
            oldest.stop()
        name = "-".join([strategy, replica, str(len(os.listdir(self.log_dir)))])
        server = ServerProcess(
            strategy,
            redis_url=url,
            workers=workers,
            grace=grace,
            extra_args=extra_args,
            log_path=self.log_dir / f"{name}.log",
        )
        server.start()
        self._servers[key] = server
        return server

    def close(self) -> None:
        """Stop every server."""
        while self._servers:
            _, server = self._servers.popitem()
            server.stop()

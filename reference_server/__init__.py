"""Reference OAuth 2.0 refresh-token rotation server, with correct and deliberately broken
concurrency-control strategies, used as the tester's target and as a baseline for users.

Run it with ``python -m reference_server --strategy atomic``; build the ASGI app with
``create_app(settings)``. The package never imports ``stress``.
"""

from __future__ import annotations

from .app import create_app
from .settings import Settings, Strategy

__all__ = ["Settings", "Strategy", "create_app"]

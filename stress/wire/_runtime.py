"""Running the wire client's event loop: asyncio, on uvloop when it is installed.

uvloop roughly halves the client's per-request CPU cost, which matters for sustained load and
for how much scheduler noise lands inside a burst; asyncio alone works everywhere.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

__all__ = ["backend_options", "run"]

T = TypeVar("T")


def backend_options() -> dict[str, Any]:
    """anyio asyncio backend options: ``use_uvloop`` when uvloop is importable."""
    return {"use_uvloop": importlib.util.find_spec("uvloop") is not None}


def run(fn: Callable[..., Awaitable[T]], *args: object) -> T:
    """``anyio.run(fn, *args)`` on the asyncio backend, with uvloop when available."""
    return anyio.run(fn, *args, backend="asyncio", backend_options=backend_options())

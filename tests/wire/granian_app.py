"""A tiny Starlette app for the granian interoperability tests: echoes its arrival time."""

from __future__ import annotations

import asyncio
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def token(request: Request) -> Response:
    body = await request.body()
    now = time.monotonic_ns()
    return Response(body or b"ok", headers={"x-arrival-ns": str(now)})


_slow_in_flight = 0


async def slow(request: Request) -> Response:
    """Answers after half a second, so that a test can stop the server while it works."""
    global _slow_in_flight
    _slow_in_flight += 1
    try:
        await asyncio.sleep(0.5)
    finally:
        _slow_in_flight -= 1
    return Response(await request.body() or b"ok")


async def in_flight(request: Request) -> Response:
    """How many ``/slow`` requests the server is working on."""
    return Response(str(_slow_in_flight))


app = Starlette(
    routes=[
        Route("/token", token, methods=["GET", "POST"]),
        Route("/slow", slow, methods=["POST"]),
        Route("/in-flight", in_flight),
    ]
)

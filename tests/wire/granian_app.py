"""A tiny Starlette app for the granian interoperability test: echoes its arrival time."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def token(request: Request) -> Response:
    body = await request.body()
    now = time.monotonic_ns()
    return Response(body or b"ok", headers={"x-arrival-ns": str(now)})


app = Starlette(routes=[Route("/token", token, methods=["GET", "POST"])])

"""An unexpected exception becomes a logged JSON 500 (the app in-process, real Redis)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from reference_server.app import create_app
from reference_server.settings import Settings, Strategy
from reference_server.store import TokenStore


def test_unexpected_error_is_json_500_with_traceback(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    app = create_app(Settings(redis_url=redis_url, strategy=Strategy.ATOMIC, log_level="info"))
    starlette = app.app

    async def broken(*args: object) -> None:
        raise RuntimeError("boom")

    async def scenario() -> httpx.Response:
        async with starlette.router.lifespan_context(starlette):
            store: TokenStore = starlette.state.ref.store
            store.refresh = broken  # type: ignore[method-assign, assignment]
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                data = {"grant_type": "refresh_token", "refresh_token": "a" * 22 + "." + "b" * 43}
                return await client.post("/oauth/token", data=data)

    logging.getLogger().addHandler(caplog.handler)
    try:
        resp = asyncio.run(scenario())
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert resp.status_code == 500
    assert resp.json()["error"] == "server_error"
    errors = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert errors, "the exception was not logged with its traceback"

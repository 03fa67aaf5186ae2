"""Fixtures shared by the reference-server tests."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import httpx
import pytest

from reference_server.embedded_redis import EmbeddedRedis


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain HTTP client with a generous timeout (servers share a busy machine)."""
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture(scope="module")
def _module_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def faulty_redis(_module_redis: EmbeddedRedis) -> Iterator[EmbeddedRedis]:
    """An embedded Redis of this module's own that a test may pause, kill and restart (with
    its append-only file, on the same port); it is running and answering after each test."""
    if os.environ.get("REDIS_URL"):
        pytest.skip("needs an embedded Redis it may stop")
    yield _module_redis
    if _module_redis.running:
        os.kill(_module_redis.pid, signal.SIGCONT)
    else:
        _module_redis.start()

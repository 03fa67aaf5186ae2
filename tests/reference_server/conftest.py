"""Fixtures shared by the reference-server tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain HTTP client with a generous timeout (servers share a busy machine)."""
    with httpx.Client(timeout=10.0) as client:
        yield client

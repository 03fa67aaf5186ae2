"""Interoperability with a real server: granian (``--http auto``) serving a Starlette app."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from stress.wire import WireClient, WireRequest

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

BODY = b"grant_type=refresh_token&refresh_token=abc"
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def _granian() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """granian serving the test app on a free port: the process and its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    granian = Path(sys.executable).with_name("granian")
    proc = subprocess.Popen(
        [
            str(granian),
            "--interface",
            "asgi",
            "--http",
            "auto",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-ws",
            "tests.wire.granian_app:app",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("granian exited before listening")
                time.sleep(0.05)
        else:
            pytest.fail("granian did not listen within 15 s")
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def granian_url() -> Iterator[str]:
    with _granian() as (_, base):
        yield f"{base}/token"


@pytest.mark.parametrize(
    ("http2", "engine", "used"),
    [
        ("auto", "auto", "single-packet"),
        ("never", "auto", "last-byte"),
        ("auto", "barrier", "barrier"),
    ],
)
async def test_burst_against_granian(granian_url: str, http2: str, engine: str, used: str) -> None:
    reqs = [WireRequest("POST", granian_url, (("content-type", "x"),), BODY)] * 8
    async with WireClient(http2=http2, settle=0.005) as client:  # type: ignore[arg-type]
        result = await client.burst(reqs, engine=engine, timeout=10)
    assert result.engine == used
    assert [o.response.body if o.response else o.error for o in result.outcomes] == [BODY] * 8
    arrivals = [int(o.response.header("x-arrival-ns") or 0) for o in result.outcomes if o.response]
    assert all(arrival > 0 for arrival in arrivals)


async def test_answers_granian_finishes_while_shutting_down_arrive() -> None:
    """SIGTERM while a burst's streams are being worked on: granian answers them after its
    GOAWAY and PING, and each answer is the request's, not a protocol error."""
    with _granian() as (proc, base):
        reqs = [WireRequest("POST", f"{base}/slow", (("content-type", "x"),), BODY)] * 4
        results = []
        async with (
            WireClient(http2="always") as client,
            WireClient(http2="never") as probe,
            anyio.create_task_group() as tg,
        ):

            async def burst() -> None:
                results.append(await client.burst(reqs, engine="single-packet", timeout=10))

            tg.start_soon(burst)
            for _ in range(200):  # at most 2 s: the server is working on all four
                answer = await probe.request(WireRequest("GET", f"{base}/in-flight"), timeout=5)
                if answer.response is not None and answer.response.body == b"4":
                    break
                await anyio.sleep(0.01)
            else:
                pytest.fail("granian never had the four requests in flight")
            proc.send_signal(signal.SIGTERM)
        (result,) = results
    assert [(o.error, o.response.body if o.response else None) for o in result.outcomes] == [
        (None, BODY)
    ] * 4

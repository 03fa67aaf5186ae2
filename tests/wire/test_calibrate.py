"""Calibration against the built-in timestamping server (a real child process)."""

from __future__ import annotations

import json
import sys
import time

import pytest

from stress.calibrate import calibrate
from stress.wire import WireClient, WireRequest, kernel_stamps
from stress.wire.timestamp_server import CLOCK_HEADER, serve, start_in_process

from .conftest import Server

pytestmark = pytest.mark.anyio

SLACK_NS = 1_000_000  # realtime-to-monotonic conversion, see tests/wire/test_kernel_stamps.py
FLOOR_TOLERANCE = 0.5
"""How far below the floor a median spread may read (the floor is a median of few rounds)."""


async def test_calibrate_reports_arrival_spreads() -> None:
    report = await calibrate(engines=("last-byte", "single-packet"), sizes=(2, 8), bursts=2)
    assert report.built_in
    assert [(r.engine, r.n) for r in report.results] == [
        ("last-byte", 2),
        ("last-byte", 8),
        ("single-packet", 2),
        ("single-packet", 8),
    ]
    for result in report.results:
        assert result.errors == 0
        assert result.arrival_median_us is not None
        assert result.arrival_p95_us is not None
        assert result.arrival_median_us <= result.arrival_p95_us
    assert report.results[2].used == "single-packet"
    assert json.loads(json.dumps(report.to_json()))["results"][0]["engine"] == "last-byte"


async def test_timestamp_server_speaks_both_protocols() -> None:
    with start_in_process() as base:
        for mode, version in (("never", "HTTP/1.1"), ("always", "HTTP/2")):
            async with WireClient(http2=mode) as client:  # type: ignore[arg-type]
                before = time.monotonic_ns()
                outcome = await client.request(WireRequest("GET", f"{base}/x"), timeout=5)
            assert outcome.response is not None
            assert outcome.response.http_version == version
            arrival = int(outcome.response.header("x-arrival-ns") or 0)
            assert before - SLACK_NS <= arrival <= outcome.recv_ns + SLACK_NS
            # The server says which clock stamped the arrival: here, the kernel's.
            expected = "kernel" if sys.platform == "linux" else "loop"
            assert outcome.response.header(CLOCK_HEADER) == expected


async def test_the_server_falls_back_to_its_own_clock_and_says_so() -> None:
    # A server whose kernel gives no stamps (kernel stamps off in this process) stamps with
    # its loop's clock and names that clock.
    server = await serve()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(kernel_stamps, "_SUPPORTED", False)
            async with WireClient(http2="never") as client:
                url = f"http://127.0.0.1:{server.port}/x"
                outcome = await client.request(WireRequest("GET", url), timeout=5)
    finally:
        server.close()
    assert outcome.response is not None
    assert outcome.response.header(CLOCK_HEADER) == "loop"
    assert int(outcome.response.header("x-arrival-ns") or 0) > 0


async def test_kernel_stamped_spreads_sit_on_the_loopback_floor() -> None:
    # The figure is the wire's: last-byte's arrival spread is the N final bytes' own, which
    # cannot be tighter than N back-to-back writes on idle loopback connections (the floor,
    # measured just before each burst) by more than measurement noise; single-packet puts every
    # final frame in one write, so one segment, one stamp.
    report = await calibrate(engines=("last-byte", "single-packet"), sizes=(8,), bursts=3)
    assert report.floor is not None
    last_byte, single_packet = report.results
    if sys.platform != "linux":
        pytest.skip("kernel stamps are asserted on Linux")
    assert report.floor.clock == "kernel"
    assert {last_byte.arrival_clock, single_packet.arrival_clock} == {"kernel"}
    assert last_byte.floor_us is not None
    assert last_byte.arrival_median_us is not None
    assert last_byte.floor_us > 0
    assert last_byte.arrival_median_us >= last_byte.floor_us * (1 - FLOOR_TOLERANCE)
    assert single_packet.floor_us == 0.0
    assert single_packet.arrival_median_us == 0.0


async def test_target_without_arrival_header_is_unknown(h1_server: Server) -> None:
    report = await calibrate(h1_server.url("/cookies"), engines=("barrier",), sizes=(2,), bursts=1)
    (result,) = report.results
    assert result.arrival_median_us is None
    assert any("x-arrival-ns" in note for note in result.notes)


async def test_http1_requests_beside_single_packet_bursts() -> None:
    # The timestamping server speaks h2c and HTTP/1.1 on one port: with http1_requests single
    # requests take HTTP/1.1 keep-alive while bursts still go out as single-packet over h2.
    with start_in_process() as base:
        async with WireClient(http2="auto", http1_requests=True) as client:
            first = await client.request(WireRequest("GET", f"{base}/x"), timeout=5)
            burst = await client.burst(
                [WireRequest("GET", f"{base}/x")] * 4, engine="auto", timeout=5
            )
            again = await client.request(WireRequest("GET", f"{base}/x"), timeout=5)
        async with WireClient(http2="auto") as default:
            negotiated = await default.request(WireRequest("GET", f"{base}/x"), timeout=5)
    assert first.response is not None
    assert again.response is not None
    assert (first.response.http_version, again.response.http_version) == ("HTTP/1.1",) * 2
    assert burst.engine == "single-packet"
    assert all(
        o.response is not None and o.response.http_version == "HTTP/2" for o in burst.outcomes
    )
    assert negotiated.response is not None
    assert negotiated.response.http_version == "HTTP/2"
    with pytest.raises(ValueError, match="http1_requests"):
        WireClient(http2="always", http1_requests=True)

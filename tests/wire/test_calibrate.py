"""Calibration against the built-in timestamping server (a real child process)."""

from __future__ import annotations

import json

import pytest

from stress.calibrate import calibrate
from stress.wire import WireClient, WireRequest
from stress.wire.timestamp_server import start_in_process

from .conftest import Server

pytestmark = pytest.mark.anyio


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
                outcome = await client.request(WireRequest("GET", f"{base}/x"), timeout=5)
            assert outcome.response is not None
            assert outcome.response.http_version == version
            assert int(outcome.response.header("x-arrival-ns") or 0) > 0


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

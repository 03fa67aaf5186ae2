"""How tightly each sync engine lands a burst: server-side arrival spread per engine and size.

A race is only found if the requests reach the server inside its window, so the tester
measures its own precision instead of assuming it. With no target, a timestamping server is
started on loopback in a child process (:mod:`stress.wire.timestamp_server`), which stamps each
arrival with the kernel's receive timestamp (the wire's figure, not its event loop's); with a
target, it must answer with ``X-Arrival-Ns`` (the reference server does, from its own loop).
For every engine and burst size N the spread (last arrival minus first) of several bursts is
summarised as median and p95, beside the *loopback floor* measured in the same run, just before
each burst (:mod:`stress.wire.loopback_floor`: as many one-byte writes as the engine's release
makes, on idle loopback connections, kernel-stamped), so that engine slack and the machine's
limit can be told apart.

The probe request is a GET by default. A target may stamp arrivals only where the work
happens (the reference server stamps ``POST /oauth/token`` and ``/oauth/revoke``, not GET
routes), so :class:`Probe` can carry a method, a body and a Content-Type; a rejection (400 for a
made-up refresh token) still carries the stamp, and the refresh path is what a race needs
measured.

Usage::

    report = await calibrate()                  # built-in server
    report = await calibrate("http://127.0.0.1:8000/healthz")
    report = await calibrate(
        "http://127.0.0.1:8000/oauth/token",
        probe=Probe("POST", b"grant_type=refresh_token&refresh_token=calibration",
                    "application/x-www-form-urlencoded"),
    )
    json.dumps(report.to_json())
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, get_args

from stress.types import ReleaseEngine
from stress.wire import BurstResult, HTTP2Mode, WireClient, WireRequest
from stress.wire.loopback_floor import LoopbackFloor
from stress.wire.timestamp_server import CLOCK_HEADER, start_in_process

__all__ = [
    "DEFAULT_ENGINES",
    "DEFAULT_SIZES",
    "FLOOR_ROUNDS",
    "Calibration",
    "EngineSpread",
    "Floor",
    "Probe",
    "arrival_clock",
    "arrival_spread_ns",
    "calibrate",
    "measure_engine",
]

DEFAULT_ENGINES: tuple[str, ...] = get_args(ReleaseEngine)
DEFAULT_SIZES: tuple[int, ...] = (2, 8, 32, 128)
ARRIVAL_HEADER = "x-arrival-ns"
FLOOR_ROUNDS = 3
"""Loopback-floor measurements taken just before each measured burst."""


@dataclass(frozen=True)
class EngineSpread:
    """Spreads measured for one engine at one burst size (microseconds; None if unknown).

    ``arrival_clock`` says who stamped the arrivals: ``kernel`` (the built-in server, from the
    kernel's receive timestamps), ``loop`` (the built-in server without them: its own clock,
    which adds its loop's delays) or ``target`` (the target's ``X-Arrival-Ns``). ``floor_us`` is
    the median loopback floor for the writes this engine's release makes (N, or one per
    connection for single-packet), measured before each burst; None when not measured.
    """

    engine: str
    used: str
    n: int
    bursts: int
    arrival_median_us: float | None
    arrival_p95_us: float | None
    release_median_us: float
    errors: int
    notes: tuple[str, ...] = ()
    arrival_clock: str | None = None
    floor_us: float | None = None


BODY_METHODS: tuple[str, ...] = ("POST", "PUT", "PATCH", "DELETE")
METHODS: tuple[str, ...] = ("GET", *BODY_METHODS)


@dataclass(frozen=True)
class Probe:
    """The request every burst repeats: method, body and Content-Type (none for a bare GET)."""

    method: str = "GET"
    body: bytes = b""
    content_type: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r}: expected one of {', '.join(METHODS)}")
        if self.body and self.method not in BODY_METHODS:
            raise ValueError(f"a body needs one of {', '.join(BODY_METHODS)}, not {self.method}")

    def request(self, url: str) -> WireRequest:
        """The wire request for ``url``."""
        headers = (("Content-Type", self.content_type),) if self.content_type else ()
        return WireRequest(self.method, url, headers, self.body)


@dataclass(frozen=True)
class Floor:
    """How the loopback floor was measured: its clock, its release, the cost of one write."""

    clock: str
    release: str
    per_write_us: float | None


@dataclass(frozen=True)
class Calibration:
    """A calibration run: the target measured and one :class:`EngineSpread` per engine and N."""

    target: str
    built_in: bool
    results: tuple[EngineSpread, ...]
    method: str = "GET"
    floor: Floor | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``--json`` writes)."""
        return {
            "target": self.target,
            "built_in": self.built_in,
            "method": self.method,
            "floor": asdict(self.floor) if self.floor else None,
            "results": [asdict(result) for result in self.results],
        }


def arrival_spread_ns(result: BurstResult) -> int | None:
    """Last minus first ``X-Arrival-Ns`` of a burst's responses; None when none carry it."""
    arrivals = []
    for outcome in result.outcomes:
        value = outcome.response.header(ARRIVAL_HEADER) if outcome.response else None
        if value is not None and value.isdigit():
            arrivals.append(int(value))
    if len(arrivals) < 2:
        return None
    return max(arrivals) - min(arrivals)


def arrival_clock(result: BurstResult) -> str | None:
    """Who stamped a burst's arrivals: ``kernel``, ``loop`` or ``target``; None if nobody did."""
    clocks = set()
    for outcome in result.outcomes:
        response = outcome.response
        if response is not None and response.header(ARRIVAL_HEADER) is not None:
            clocks.add(response.header(CLOCK_HEADER) or "target")
    return _weakest(clocks)


def _weakest(clocks: set[str]) -> str | None:
    """The clock that names a set of stamps: the least exact one among them."""
    return next((clock for clock in ("target", "loop", "kernel") if clock in clocks), None)


def _release_writes(used: str, n: int) -> int:
    """How many writes the engine's release makes (single-packet: one per connection)."""
    return 1 if used == "single-packet" else n


def _percentile(values: Sequence[int], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return float(ordered[index])


async def measure_engine(
    client: WireClient,
    request: WireRequest,
    *,
    engine: str,
    n: int,
    bursts: int,
    op_timeout: float,
    floor: LoopbackFloor | None = None,
) -> EngineSpread:
    """Run one warm-up burst and ``bursts`` measured bursts of ``n`` copies of ``request``.

    With ``floor``, :data:`FLOOR_ROUNDS` floor measurements are taken just before each
    measured burst, for as many writes as that burst's release makes.
    """
    warm = await client.burst([request] * n, engine=engine, timeout=op_timeout)
    spreads: list[int] = []
    releases: list[int] = []
    floors: list[int] = []
    clocks: set[str] = set()
    errors = 0
    notes: set[str] = set()
    used = warm.engine
    for _ in range(bursts):
        writes = _release_writes(used, n)
        if floor is not None:
            floors += [floor.measure(writes) if writes > 1 else 0 for _ in range(FLOOR_ROUNDS)]
        result = await client.burst([request] * n, engine=engine, timeout=op_timeout)
        used = result.engine
        notes.update(result.notes)
        errors += sum(1 for o in result.outcomes if o.error is not None)
        releases.append(result.release_spread_ns)
        spread = arrival_spread_ns(result)
        if spread is not None:
            spreads.append(spread)
        clock = arrival_clock(result)
        if clock is not None:
            clocks.add(clock)
    if not spreads:
        notes.add(f"no {ARRIVAL_HEADER} header in the responses: arrival spread unknown")
    if "loop" in clocks:
        notes.add("no kernel receive timestamps: arrivals stamped by the server's own loop")
    return EngineSpread(
        engine=engine,
        used=used,
        n=n,
        bursts=bursts,
        arrival_median_us=statistics.median(spreads) / 1000 if spreads else None,
        arrival_p95_us=_percentile(spreads, 0.95) / 1000 if spreads else None,
        release_median_us=statistics.median(releases) / 1000,
        errors=errors,
        notes=tuple(sorted(notes)),
        arrival_clock=_weakest(clocks),
        floor_us=statistics.median(floors) / 1000 if floors else None,
    )


@contextlib.contextmanager
def _target(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with start_in_process() as base:
        yield f"{base}/calibrate"


def _http2_mode(engine: str) -> HTTP2Mode:
    """single-packet (and auto) may use HTTP/2; the other engines are measured on HTTP/1.1."""
    return "auto" if engine in ("single-packet", "auto") else "never"


async def calibrate(
    target: str | None = None,
    *,
    engines: Sequence[str] = DEFAULT_ENGINES,
    sizes: Sequence[int] = DEFAULT_SIZES,
    bursts: int = 7,
    op_timeout: float = 10.0,
    settle: float = 0.005,
    ca_file: str | None = None,
    insecure: bool = False,
    probe: Probe | None = None,
) -> Calibration:
    """Measure every engine at every burst size against ``target`` (or the built-in server).

    ``target`` is a full URL answered with ``X-Arrival-Ns``; it receives ``probe`` requests
    (default: GET without a body). Each engine gets its own client, so connection pools do not
    leak between engines.
    """
    probe = probe or Probe()
    results: list[EngineSpread] = []
    with _target(target) as url, LoopbackFloor(max(sizes)) as floor:
        request = probe.request(url)
        for engine in engines:
            async with WireClient(
                http2=_http2_mode(engine), settle=settle, ca_file=ca_file, insecure=insecure
            ) as client:
                for n in sizes:
                    results.append(
                        await measure_engine(
                            client,
                            request,
                            engine=engine,
                            n=n,
                            bursts=bursts,
                            op_timeout=op_timeout,
                            floor=floor,
                        )
                    )
        floor_info = Floor(
            clock=floor.clock,
            release="batch" if floor.batched else "loop",
            per_write_us=_per_write_us(results),
        )
    return Calibration(
        target=target or "built-in",
        built_in=target is None,
        results=tuple(results),
        method=probe.method,
        floor=floor_info,
    )


def _per_write_us(results: Sequence[EngineSpread]) -> float | None:
    """The cost of one write on this machine: floor per write gap, median over the rows."""
    costs = [
        r.floor_us / (_release_writes(r.used, r.n) - 1)
        for r in results
        if r.floor_us is not None and _release_writes(r.used, r.n) > 1
    ]
    return statistics.median(costs) if costs else None

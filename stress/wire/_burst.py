"""The sync engines: how a burst of requests is released so they reach the server together.

Every engine first *warms* what it needs: connections are taken from the pool (kept-alive ones
that already completed a request) or opened fresh, which for us means TCP and TLS handshakes
done and, for HTTP/2, SETTINGS exchanged. A burst never pays for a handshake. Then:

- ``none``: one task per request, sent as the scheduler runs them;
- ``barrier``: one task per request waits on a single ``anyio.Event``; each writes its whole
  request when released;
- ``last-byte`` (HTTP/1.1): every request is written but its final byte; after ``settle``
  seconds (the server has read the prefixes), and once the server's TCP has acknowledged the
  prefix on every cleartext connection opened for the burst (:mod:`stress.wire.tcp_acks`: a
  server slow to accept resets a final byte that comes first), the final bytes are released
  together (:mod:`stress.wire._release`: one ``io_submit`` call for all of them where Linux
  AIO exists, else a loop that does nothing but ``send`` and stamp the time). Then the client
  waits ``collect_after`` seconds before it reads a response: a server on this host works on
  the burst with every core to itself instead of waking the client for each response
  (benchmarks/README.md: against ``naive``, P(detect) per burst of 8 went from 0.65-0.68 to
  0.77-0.78 with two server workers); the kernel's transmit stamps of the release are read
  after that wait too, not in it. A response's completion time is the kernel's receive
  stamp of its last segment, so the wait never shows in latencies; where the kernel gives no
  stamp, it is the clock at the read, and includes the wait;
- ``single-packet`` (HTTP/2): every stream's HEADERS and DATA but its final frame are sent;
  after ``settle`` every final frame of a connection goes out in *one* ``send``, the
  connections of different origins released together the same way.

A released request's ``send_ns`` is the kernel's transmit stamp of its final bytes where the
kernel gives one (:mod:`stress.wire.kernel_stamps`), else the clock read once they were handed
over.

A burst larger than an HTTP/2 peer's SETTINGS_MAX_CONCURRENT_STREAMS runs in waves, and the
result carries a note saying so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from stress.wire._http1 import H1Connection, encode_request
from stress.wire._http2 import H2Connection, H2Stream
from stress.wire._models import BurstResult, ErrorClass, Origin, WireOutcome, WireRequest, split_url
from stress.wire._pool import Pool
from stress.wire._release import hand_over, release
from stress.wire._transport import WireFailure
from stress.wire.tcp_acks import unacknowledged

__all__ = ["Slot", "run_burst"]

# How often a release that waits for its prefixes' acknowledgements looks again.
_ACK_POLL_S = 0.001


@dataclass
class Slot:
    """One request of a burst and what has happened to it so far."""

    index: int
    request: WireRequest
    origin: Origin
    target: str
    sent: bool = False
    send_ns: int = 0
    outcome: WireOutcome | None = None

    def fail(self, exc: WireFailure) -> None:
        """Record an error: indeterminate once a byte has left, unless the stream was refused."""
        sent = self.sent and exc.kind != "refused"
        self.outcome = WireOutcome(
            self.request, None, self.send_ns, time.monotonic_ns(), sent, exc.kind, exc.detail
        )

    def timed_out(self, budget: float) -> None:
        """Record a budget (``connect`` when nothing had left yet)."""
        kind: ErrorClass = "timeout" if self.sent else "connect"
        self.fail(WireFailure(kind, f"no progress within {budget:g}s"))


Exchange = Callable[[Slot, float], Coroutine[Any, Any, None]]


async def run_burst(
    pool: Pool,
    reqs: Sequence[WireRequest],
    *,
    engine: str,
    budget: float,
    settle: float,
    exchange: Exchange,
    collect_after: float = 0.0,
) -> BurstResult:
    """Run one burst with ``engine`` (already validated) and collect outcomes in order."""
    slots = [Slot(i, req, *split_url(req.url)) for i, req in enumerate(reqs)]
    notes: list[str] = []
    windows: list[int] = []  # how long each tight release took (see stress.wire._release)
    protocols: dict[Origin, str] = {}
    for origin in {slot.origin for slot in slots}:
        try:
            with anyio.fail_after(budget):
                protocols[origin] = await pool.protocol(origin)
        except (WireFailure, TimeoutError) as exc:
            failure = exc if isinstance(exc, WireFailure) else WireFailure("connect", "timed out")
            for slot in slots:
                if slot.origin == origin:
                    slot.fail(failure)
    live = [slot for slot in slots if slot.outcome is None]
    used = engine
    all_h2 = bool(protocols) and all(p == "h2" for p in protocols.values())
    if engine == "auto":
        used = "single-packet" if all_h2 else "last-byte"
    elif engine == "single-packet" and not all_h2:
        used = "last-byte"
        notes.append("single-packet needs HTTP/2 on every origin: used last-byte")
    if used == "last-byte" and pool.http2 == "always":
        raise ValueError("the last-byte engine needs HTTP/1.1 but http2='always'")
    if used == "none":
        async with anyio.create_task_group() as tg:
            for slot in live:
                tg.start_soon(exchange, slot, budget)
    elif used == "last-byte":
        await _last_byte(pool, live, budget, (settle, collect_after), windows)
    else:
        h1 = [s for s in live if protocols.get(s.origin) != "h2"]
        h2 = [s for s in live if protocols.get(s.origin) == "h2"]
        if used == "barrier":
            await _barrier(pool, h1, h2, budget, notes)
        else:
            await _single_packet(pool, h2, budget, settle, notes, windows)
    outcomes = [slot.outcome for slot in slots]
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(slots), "every slot ends with an outcome"
    stamps = [o.send_ns for o in done if o.send_ns]
    spread = max([max(stamps) - min(stamps) if stamps else 0, *windows])
    return BurstResult(done, used, spread, tuple(notes))


async def _checkout_h1(pool: Pool, slots: Sequence[Slot], budget: float) -> list[H1Connection]:
    """One warmed HTTP/1.1 connection per slot, opened concurrently; failures end the slot."""
    conns: dict[int, H1Connection] = {}

    async def one(slot: Slot) -> None:
        try:
            with anyio.fail_after(budget):
                conns[slot.index] = await pool.get_h1(slot.origin)
        except TimeoutError:
            slot.timed_out(budget)
        except WireFailure as exc:
            slot.fail(exc)

    async with anyio.create_task_group() as tg:
        for slot in slots:
            tg.start_soon(one, slot)
    return [conns[s.index] for s in slots if s.index in conns]


async def _finish_h1(pool: Pool, slot: Slot, conn: H1Connection, budget: float) -> None:
    """Flush what is left of the request, then read its response; return the connection."""
    conn.transport.received_ns = None
    try:
        with anyio.fail_after(budget):
            if conn.transport.has_pending:
                await conn.transport.flush()
                slot.send_ns = time.monotonic_ns()
            response = await conn.read_response()
    except TimeoutError:
        conn.close()
        slot.timed_out(budget)
        return
    except WireFailure as exc:
        conn.close()
        slot.fail(exc)
        return
    except BaseException:
        conn.close()
        raise
    # A server that answered before the final byte (an early error) still completes after it.
    ended = max(conn.transport.received_ns or time.monotonic_ns(), slot.send_ns)
    slot.outcome = WireOutcome(slot.request, response, slot.send_ns, ended, True)
    pool.put_h1(conn)


async def _last_byte(
    pool: Pool,
    slots: Sequence[Slot],
    budget: float,
    pauses: tuple[float, float],
    windows: list[int],
) -> None:
    """``pauses``: (settle, collect_after), the waits before the release and after it."""
    settle, collect_after = pauses
    ready = [s for s in slots if s.outcome is None]
    conns = await _checkout_h1(pool, ready, budget)
    ready = [s for s in ready if s.outcome is None]
    finals: list[bytes] = []
    for conn in conns:
        conn.transport.stamp_receives()
    for slot, conn in zip(ready, conns, strict=True):
        data = encode_request(slot.request, slot.origin, slot.target)
        conn.begin(slot.request, slot.target)
        try:
            conn.transport.write(data[:-1])
        except WireFailure:
            finals.append(b"")
            continue
        slot.sent = True
        finals.append(data[-1:])
    for conn in conns:
        if conn.transport.has_pending:
            await conn.transport.flush()
    await anyio.sleep(settle)
    await _until_acknowledged(list(zip(ready, conns, strict=True)), finals, budget)
    wires = [c.transport.encode(f) if f else b"" for c, f in zip(conns, finals, strict=True)]
    handover = hand_over([c.transport for c in conns], wires)
    if collect_after > 0 and not any(c.transport.has_pending for c in conns):
        await anyio.sleep(collect_after)  # bytes the release could not place go out at once
    released = handover.stamped()  # the stamps are read after the wait, not during it
    windows.append(released.window_ns)
    async with anyio.create_task_group() as tg:
        for slot, conn, stamp, error in zip(
            ready, conns, released.stamps, released.errors, strict=True
        ):
            if slot.outcome is not None:
                continue  # its prefix was never acknowledged: nothing was released
            slot.send_ns = stamp
            if error is not None or not slot.sent:
                conn.close()
                slot.fail(error or WireFailure("reset", "connection lost before sending"))
            else:
                tg.start_soon(_finish_h1, pool, slot, conn, budget)


def _fresh(conn: H1Connection) -> bool:
    """True for a connection that carried no bytes before this burst (see stress.wire.tcp_acks)."""
    return conn.requests_completed == 0 and conn.origin.scheme == "http"


async def _until_acknowledged(
    pairs: list[tuple[Slot, H1Connection]], finals: list[bytes], budget: float
) -> None:
    """Wait, within ``budget``, until the prefix on every fresh connection is acknowledged.

    A connection still unacknowledged at the deadline is one the server never took: its slot
    fails as a connection failure, not an indeterminate request (an incomplete request cannot
    have been executed), and its final byte is not released (``finals`` emptied).
    """
    waiting = [
        i
        for i, (slot, conn) in enumerate(pairs)
        if slot.sent and _fresh(conn) and unacknowledged(conn.transport.sock)
    ]
    deadline = time.monotonic() + budget
    while waiting and time.monotonic() < deadline:
        await anyio.sleep(_ACK_POLL_S)
        waiting = [i for i in waiting if unacknowledged(pairs[i][1].transport.sock)]
    for i in waiting:
        slot, conn = pairs[i]
        conn.close()
        finals[i] = b""
        slot.sent = False
        slot.fail(
            WireFailure(
                "connect",
                f"the server did not acknowledge the request's first bytes within {budget:g}s "
                "(a full listen queue?)",
            )
        )


async def _barrier(
    pool: Pool, h1: list[Slot], h2: list[Slot], budget: float, notes: list[str]
) -> None:
    conns = await _checkout_h1(pool, h1, budget)
    pairs = list(zip([s for s in h1 if s.outcome is None], conns, strict=True))
    for wave in await _h2_waves(pool, h2, budget, notes) or [[]]:
        await _barrier_wave(pool, pairs, wave, budget)
        pairs = []


async def _barrier_wave(
    pool: Pool,
    h1: list[tuple[Slot, H1Connection]],
    h2: list[tuple[Slot, H2Connection]],
    budget: float,
) -> None:
    release = anyio.Event()
    waiting = anyio.Event()
    count = len(h1) + len(h2)
    arrived = 0

    def arrive() -> None:
        nonlocal arrived
        arrived += 1
        if arrived == count:
            waiting.set()

    async def fire_h1(slot: Slot, conn: H1Connection) -> None:
        data = encode_request(slot.request, slot.origin, slot.target)
        conn.begin(slot.request, slot.target)
        arrive()
        await release.wait()
        try:
            conn.transport.write(data)
        except WireFailure as exc:
            conn.close()
            slot.fail(exc)
            return
        slot.sent = True
        slot.send_ns = time.monotonic_ns()
        await _finish_h1(pool, slot, conn, budget)

    async def fire_h2(slot: Slot, conn: H2Connection) -> None:
        arrive()
        await release.wait()
        await _h2_exchange(slot, conn, budget)

    async with anyio.create_task_group() as tg:
        for slot, conn in h1:
            tg.start_soon(fire_h1, slot, conn)
        for slot, h2conn in h2:
            tg.start_soon(fire_h2, slot, h2conn)
        if count:
            await waiting.wait()
        release.set()


async def _h2_exchange(slot: Slot, conn: H2Connection, budget: float) -> None:
    stream: H2Stream | None = None
    try:
        with anyio.fail_after(budget):
            stream = await conn.begin_request(slot.request, slot.target)
            await conn.send_request(stream)
            slot.sent, slot.send_ns = True, stream.send_ns
            response = await conn.wait_response(stream)
    except TimeoutError:
        slot.sent = slot.sent or (stream is not None and stream.wrote)
        slot.timed_out(budget)
        return
    except WireFailure as exc:
        slot.sent = slot.sent or (stream is not None and stream.wrote)
        slot.fail(exc)
        return
    slot.outcome = WireOutcome(slot.request, response, slot.send_ns, time.monotonic_ns(), True)


async def _h2_waves(
    pool: Pool, slots: list[Slot], budget: float, notes: list[str]
) -> list[list[tuple[Slot, H2Connection]]]:
    """Group HTTP/2 slots into waves no larger than each connection's free stream slots."""
    per_origin: dict[Origin, list[Slot]] = {}
    for slot in slots:
        per_origin.setdefault(slot.origin, []).append(slot)
    waves: list[list[tuple[Slot, H2Connection]]] = []
    for origin, group in per_origin.items():
        try:
            with anyio.fail_after(budget):
                conn = await pool.get_h2(origin)
        except (WireFailure, TimeoutError) as exc:
            failure = exc if isinstance(exc, WireFailure) else WireFailure("connect", "timed out")
            for slot in group:
                slot.fail(failure)
            continue
        size = max(1, min(conn.free_slots, len(group)))
        if size < len(group):
            count = -(-len(group) // size)
            notes.append(
                f"split into {count} waves: {origin} allows {conn.max_streams} concurrent streams"
            )
        for n, start in enumerate(range(0, len(group), size)):
            if n == len(waves):
                waves.append([])
            waves[n].extend((slot, conn) for slot in group[start : start + size])
    return waves


async def _single_packet(
    pool: Pool,
    slots: list[Slot],
    budget: float,
    settle: float,
    notes: list[str],
    windows: list[int],
) -> None:
    for wave in await _h2_waves(pool, slots, budget, notes):
        await _single_packet_wave(wave, budget, settle, windows)


async def _single_packet_wave(
    wave: list[tuple[Slot, H2Connection]], budget: float, settle: float, windows: list[int]
) -> None:
    streams: list[tuple[Slot, H2Connection, H2Stream]] = []
    conns: list[H2Connection] = []
    for slot, conn in wave:
        try:
            with anyio.fail_after(budget):
                if conn.free_slots == 0:
                    # Concurrent bursts share the connection and took the slots this wave was
                    # planned with: wait for one rather than exceed the peer's stream limit.
                    await conn.wait_slot()
                stream = conn.open_stream(slot.request, slot.target)
                await conn.send_prefix_data(stream)
        except (WireFailure, TimeoutError) as exc:
            slot.fail(exc if isinstance(exc, WireFailure) else WireFailure("timeout", "window"))
            continue
        streams.append((slot, conn, stream))
        if conn not in conns:
            conns.append(conn)
    for conn in conns:
        try:
            await conn.send_prefix()
        except WireFailure:
            continue  # the connection is dead; its streams carry the error
    await anyio.sleep(settle)
    for slot, conn, stream in streams:
        slot.sent = stream.wrote
        if not stream.done:
            await conn.ensure_final_window(stream)
            conn.queue_final(stream)
    live = [c for c in conns if c.dead is None]
    wires = [c.transport.encode(c.take_output()) for c in live]
    released = release([c.transport for c in live], wires)  # one write per connection
    windows.append(released.window_ns)
    for conn, stamp, error in zip(live, released.stamps, released.errors, strict=True):
        if error is not None:
            conn.close()
            continue
        if conn.transport.has_pending:
            await conn.transport.flush()
            stamp = time.monotonic_ns()
        for slot, owner, _ in streams:
            if owner is conn:
                slot.send_ns = stamp
    async with anyio.create_task_group() as tg:
        for slot, conn, stream in streams:
            tg.start_soon(_h2_wait, slot, conn, stream, budget)


async def _h2_wait(slot: Slot, conn: H2Connection, stream: H2Stream, budget: float) -> None:
    try:
        with anyio.fail_after(budget):
            response = await conn.wait_response(stream)
    except TimeoutError:
        slot.timed_out(budget)
        return
    except WireFailure as exc:
        slot.fail(exc)
        return
    slot.outcome = WireOutcome(slot.request, response, slot.send_ns, time.monotonic_ns(), True)

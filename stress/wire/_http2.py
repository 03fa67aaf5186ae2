"""HTTP/2 over one :class:`Transport`, driven by the ``h2`` state machine.

Many streams share the connection and no background task owns it: whichever waiting stream
holds the read lock reads from the socket and dispatches events to every stream (the shape
httpcore uses). Requests are split into a *prefix* (HEADERS, and DATA without the body's last
byte) and a *final frame* (the last byte, or an empty DATA, with END_STREAM), so that the
single-packet engine can queue every stream's final frame and put them on the wire in one
``send``. A plain request is prefix plus final frame flushed together.

Flow control: the connection window we advertise is raised to 16 MiB at start, received data
is acknowledged as it arrives, and outgoing DATA waits for WINDOW_UPDATE when the peer's
window is exhausted. RST_STREAM ends a stream with ``reset`` (``refused`` for REFUSED_STREAM);
GOAWAY refuses every stream above its last-stream-id and stops new streams on the connection;
a graceful one (NO_ERROR) leaves the streams at or below it to complete (see :class:`_Graceful`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from stress.wire._models import ErrorClass, Origin, WireRequest, WireResponse
from stress.wire._transport import Transport, WireFailure

if TYPE_CHECKING:
    from hyperframe.frame import Frame, GoAwayFrame

__all__ = ["H2Connection", "H2Stream"]

_HOP_BY_HOP = frozenset(
    {"host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)
_CONNECTION_WINDOW = 2**24


class _Graceful(h2.connection.H2Connection):
    """h2's connection, except that a graceful GOAWAY does not close it.

    RFC 9113 section 6.8: after a GOAWAY, streams at or below its last-stream-id "might still
    complete successfully", and a server shutting down gracefully answers them before it
    closes. Servers do: hyper (granian and other Rust servers) sends GOAWAY(NO_ERROR) and a
    PING at shutdown, then answers the streams in flight; nginx sends one once a connection has
    served ``keepalive_requests``. h2 closes its state machine on any GOAWAY, so the PING or
    the answer after it raised ``ProtocolError`` and every stream in flight failed, answered or
    not (h2 issue #1181). A GOAWAY with an error code still closes the connection as h2 does.
    """

    def _receive_goaway_frame(
        self, frame: GoAwayFrame
    ) -> tuple[list[Frame], list[h2.events.Event]]:
        if frame.error_code != h2.errors.ErrorCodes.NO_ERROR:
            return super()._receive_goaway_frame(frame)
        event = h2.events.ConnectionTerminated()
        event.error_code = h2.errors.ErrorCodes.NO_ERROR
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


@dataclass
class H2Stream:
    """One request/response exchange on an :class:`H2Connection`."""

    stream_id: int
    request: WireRequest
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    done: bool = False
    error: ErrorClass | None = None
    detail: str = ""
    final: bytes = b""
    send_ns: int = 0
    wrote: bool = False

    def response(self) -> WireResponse:
        """The completed response, or the :class:`WireFailure` that ended the stream."""
        if self.error is not None:
            raise WireFailure(self.error, self.detail)
        return WireResponse(self.status, tuple(self.headers), bytes(self.body), "HTTP/2")


class H2Connection:
    """A client HTTP/2 connection (prior knowledge over TCP, or ALPN ``h2`` over TLS)."""

    http_version = "HTTP/2"

    def __init__(self, transport: Transport, origin: Origin) -> None:
        self.transport = transport
        self.origin = origin
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self._h2 = _Graceful(config=config)
        self._streams: dict[int, H2Stream] = {}
        self._read_lock = anyio.Lock()
        self._settings_seen = False
        self._slot_freed = anyio.Event()
        self.dead: str | None = None
        self.goaway = False

    async def start(self) -> None:
        """Send the preface and SETTINGS, then read until the server's SETTINGS arrive.

        A connection is *warm* once this returns: TCP (and TLS) handshakes done and SETTINGS
        exchanged, so a burst on it pays for none of them.
        """
        self._h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 65536,
            },
        )
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(_CONNECTION_WINDOW)
        await self._send_pending()
        while not self._settings_seen:
            await self._receive_once()

    @property
    def available(self) -> bool:
        """True while new streams may be opened here."""
        return self.dead is None and not self.goaway and not self.transport.closed

    @property
    def max_streams(self) -> int:
        """The peer's SETTINGS_MAX_CONCURRENT_STREAMS (unbounded when it sent none)."""
        return int(self._h2.remote_settings.max_concurrent_streams)

    @property
    def free_slots(self) -> int:
        """How many more streams the peer allows right now."""
        return max(0, self.max_streams - self._h2.open_outbound_streams)

    async def wait_slot(self) -> None:
        """Wait until a stream may be opened (reading the socket if nobody else is)."""
        while self.free_slots == 0:
            if self.dead is not None:
                raise WireFailure("reset", self.dead)
            freed = self._slot_freed
            if self._read_lock.locked():
                await freed.wait()
            else:
                async with self._read_lock:
                    await self._receive_once()

    def open_stream(self, req: WireRequest, target: str) -> H2Stream:
        """Queue HEADERS (and DATA up to the body's last byte) for ``req``; nothing is sent.

        The stream's final frame is kept back in :attr:`H2Stream.final` as request data; call
        :meth:`queue_final` to queue it. Raises :class:`WireFailure` if the peer's window
        cannot take the body prefix (call :meth:`send_prefix_data` instead for big bodies).
        """
        if not self.available:
            raise WireFailure("reset", self.dead or "connection is going away")
        stream_id = self._h2.get_next_available_stream_id()
        headers = [
            (b":method", req.method.upper().encode("ascii")),
            (b":scheme", self.origin.scheme.encode("ascii")),
            (b":authority", self.origin.authority.encode("ascii")),
            (b":path", target.encode("latin-1")),
        ]
        names: set[str] = set()
        for name, value in req.headers:
            lower = name.lower()
            names.add(lower)
            if lower not in _HOP_BY_HOP:
                headers.append((lower.encode("latin-1"), value.encode("latin-1")))
        if req.body and "content-length" not in names:
            headers.append((b"content-length", str(len(req.body)).encode("ascii")))
        self._h2.send_headers(stream_id, headers, end_stream=False)
        stream = H2Stream(stream_id, req)
        stream.final = req.body[-1:]
        self._streams[stream_id] = stream
        return stream

    async def send_prefix_data(self, stream: H2Stream) -> None:
        """Queue the body minus its last byte, waiting for flow-control window as needed."""
        data = stream.request.body[:-1]
        while data:
            window = min(
                self._h2.local_flow_control_window(stream.stream_id),
                self._h2.max_outbound_frame_size,
            )
            if window <= 0:
                await self._send_pending()
                await self._read_for(lambda: self._window(stream) > 0, stream)
                continue
            self._h2.send_data(stream.stream_id, data[:window])
            data = data[window:]

    def _window(self, stream: H2Stream) -> int:
        return int(self._h2.local_flow_control_window(stream.stream_id))

    async def ensure_final_window(self, stream: H2Stream) -> None:
        """Make sure the final frame (at most one byte) fits in the peer's window."""
        if stream.final and self._window(stream) < 1:
            await self._read_for(lambda: self._window(stream) > 0, stream)

    def queue_final(self, stream: H2Stream) -> None:
        """Queue the stream's final DATA frame with END_STREAM (not yet sent)."""
        self._h2.send_data(stream.stream_id, stream.final, end_stream=True)

    def take_output(self) -> bytes:
        """Everything h2 has queued, as plaintext frames."""
        return bytes(self._h2.data_to_send())

    async def _send_pending(self) -> None:
        data = self._h2.data_to_send()
        if data:
            self.transport.write(bytes(data))
            self.mark_written()
        await self.transport.flush()

    def mark_written(self) -> None:
        """Every open stream's queued frames have just been handed to the transport."""
        for stream in self._streams.values():
            stream.wrote = True

    async def send_prefix(self) -> None:
        """Put every queued frame (prefixes, acknowledgements) on the wire."""
        await self._send_pending()

    async def begin_request(self, req: WireRequest, target: str) -> H2Stream:
        """Wait for a free stream slot and open a stream for ``req`` (nothing sent yet)."""
        await self.wait_slot()
        return self.open_stream(req, target)

    async def send_request(self, stream: H2Stream) -> None:
        """Send the whole request of ``stream`` and stamp its ``send_ns``."""
        await self.send_prefix_data(stream)
        await self.ensure_final_window(stream)
        self.queue_final(stream)
        await self._send_pending()
        stream.send_ns = time.monotonic_ns()

    async def wait_response(self, stream: H2Stream) -> WireResponse:
        """Read until ``stream`` has ended, then return its response."""
        await self._read_for(lambda: stream.done, stream)
        return stream.response()

    async def _read_for(self, check: Callable[[], bool], stream: H2Stream) -> None:
        while not check() and not stream.done:
            async with self._read_lock:
                if check() or stream.done:
                    break
                await self._receive_once()

    async def _receive_once(self) -> None:
        if self.dead is not None:
            raise WireFailure("reset", self.dead)
        try:
            data = await self.transport.receive()
        except WireFailure as exc:
            self._die(exc.kind, exc.detail)
            raise
        if not data:
            self._die("reset", "connection closed by peer")
            return
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._die("protocol", f"{type(exc).__name__}: {exc}")
            raise WireFailure("protocol", str(exc)) from exc
        for event in events:
            self._dispatch(event)
        await self._send_pending()

    def _dispatch(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self._settings_seen = True
            return
        if isinstance(event, h2.events.ConnectionTerminated):
            self._goaway(event)
            return
        stream = self._streams.get(getattr(event, "stream_id", 0) or 0)
        if stream is None:
            return
        if isinstance(event, h2.events.ResponseReceived):
            for name, value in event.headers or ():
                key = bytes(name).decode("latin-1")
                if key == ":status":
                    stream.status = int(value)
                elif not key.startswith(":"):
                    stream.headers.append((key, bytes(value).decode("latin-1")))
        elif isinstance(event, h2.events.DataReceived):
            stream.body += event.data or b""
            if event.flow_controlled_length:
                self._h2.acknowledge_received_data(event.flow_controlled_length, stream.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self._end(stream)
        elif isinstance(event, h2.events.StreamReset):
            refused = event.error_code == h2.errors.ErrorCodes.REFUSED_STREAM
            stream.error = "refused" if refused else "reset"
            stream.detail = f"RST_STREAM {event.error_code!s}"
            self._end(stream)

    def _goaway(self, event: h2.events.ConnectionTerminated) -> None:
        self.goaway = True
        last = event.last_stream_id or 0
        for stream in list(self._streams.values()):
            if stream.stream_id > last and not stream.done:
                stream.error = "refused"
                stream.detail = f"GOAWAY {event.error_code!s}: stream not processed"
                self._end(stream)
        if event.error_code not in (None, h2.errors.ErrorCodes.NO_ERROR):
            self._die("reset", f"GOAWAY {event.error_code!s}")

    def _end(self, stream: H2Stream) -> None:
        stream.done = True
        self._streams.pop(stream.stream_id, None)
        self._slot_freed.set()
        self._slot_freed = anyio.Event()

    def _die(self, kind: ErrorClass, detail: str) -> None:
        if self.dead is None:
            self.dead = detail
        for stream in list(self._streams.values()):
            stream.error = kind
            stream.detail = detail
            self._end(stream)
        self.transport.close()

    def close(self) -> None:
        """Close the socket (streams still open end with ``reset``)."""
        self._die("reset", "connection closed by client")

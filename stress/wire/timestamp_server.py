"""A loopback server that stamps each request's arrival, to measure how tight a burst lands.

It speaks HTTP/1.1 (h11) and HTTP/2 cleartext with prior knowledge (h2) on one port, telling them
apart by the connection preface. Every request is answered ``200`` with ``X-Arrival-Ns``: the
``time.monotonic_ns()`` at which the kernel handed over the bytes that completed the request
(the end of its body, or END_STREAM), taken before any parsing. It runs in a child process
(:func:`start_in_process`) so that the client under test shares neither event loop nor GIL.

Built on ``asyncio.Protocol`` callbacks rather than streams: the stamp is taken inside
``data_received``, with no task switch between the kernel handing over bytes and the stamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import h11

__all__ = ["main", "serve", "start_in_process"]

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class _Protocol(asyncio.Protocol):
    """One connection; becomes HTTP/1.1 or HTTP/2 on its first bytes."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._h11: h11.Connection | None = None
        self._h2: h2.connection.H2Connection | None = None
        self._now = 0
        self._inbox: list[tuple[int, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        # Only stamp and queue here: parsing is deferred past the loop's I/O phase, so the
        # other connections that became readable in the same poll are stamped without waiting
        # for this one to be parsed.
        self._inbox.append((time.monotonic_ns(), data))
        if len(self._inbox) == 1:
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        inbox, self._inbox = self._inbox, []
        for self._now, data in inbox:
            self._received(data)

    def _received(self, data: bytes) -> None:
        if self._h11 is None and self._h2 is None:
            self._buffer += data
            if len(self._buffer) < len(_PREFACE) and _PREFACE.startswith(self._buffer):
                return
            data, self._buffer = self._buffer, b""
            if data.startswith(_PREFACE):
                config = h2.config.H2Configuration(client_side=False, header_encoding=None)
                self._h2 = h2.connection.H2Connection(config=config)
                self._h2.local_settings = h2.settings.Settings(
                    client=False,
                    initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1024},
                )
                self._h2.initiate_connection()
            else:
                self._h11 = h11.Connection(h11.SERVER)
        if self._h2 is not None:
            self._h2_received(data)
        else:
            self._h1_received(data)

    def _h1_received(self, data: bytes) -> None:
        conn = self._h11
        assert conn is not None
        assert self._transport is not None
        conn.receive_data(data)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                self._transport.close()
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.EndOfMessage):
                headers = [("content-length", "2"), ("x-arrival-ns", str(self._now))]
                out = conn.send(h11.Response(status_code=200, headers=headers)) or b""
                out += conn.send(h11.Data(data=b"ok")) or b""
                out += conn.send(h11.EndOfMessage()) or b""
                self._later(out, close=conn.our_state is h11.MUST_CLOSE)
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                self._transport.close()
                return

    def _h2_received(self, data: bytes) -> None:
        conn = self._h2
        assert conn is not None
        assert self._transport is not None
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.DataReceived) and event.stream_id:
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                stamp = str(self._now).encode()
                headers = [
                    (b":status", b"200"),
                    (b"content-length", b"2"),
                    (b"x-arrival-ns", stamp),
                ]
                conn.send_headers(event.stream_id, headers)
                conn.send_data(event.stream_id, b"ok", end_stream=True)
        self._later(conn.data_to_send())

    def _later(self, data: bytes, *, close: bool = False) -> None:
        # Writing is deferred to after the loop's I/O phase, so every connection that became
        # readable in the same poll is stamped before any response costs the server time.
        transport = self._transport
        assert transport is not None

        def write() -> None:
            if not transport.is_closing():
                transport.write(data)
                if close:
                    transport.close()

        asyncio.get_running_loop().call_soon(write)


async def serve(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Start the server in the running asyncio loop; the caller closes it."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(_Protocol, host, port, backlog=1024)


def main() -> None:
    """Child-process entry: serve, write the port on stdout, stop when stdin closes."""

    async def run() -> None:
        server = await serve()
        sys.stdout.write(f"{server.sockets[0].getsockname()[1]}\n")
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        server.close()

    try:
        import uvloop
    except ImportError:
        asyncio.run(run())
    else:
        uvloop.run(run())


@contextlib.contextmanager
def start_in_process(timeout: float = 20.0) -> Iterator[str]:
    """Run the server in a child process; yields its base URL ``http://127.0.0.1:PORT``.

    Blocks while the child starts (a fraction of a second); closing the child's stdin stops it.
    """
    code = "from stress.wire.timestamp_server import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            raise RuntimeError("the timestamping server did not start")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        process.stdin.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        process.stdout.close()

"""A loopback server that stamps each request's arrival, to measure how tight a burst lands.

It speaks HTTP/1.1 (h11) and HTTP/2 cleartext with prior knowledge (h2) on one port, telling them
apart by the connection preface. Every request is answered ``200`` with ``X-Arrival-Ns``: when
the bytes that completed the request (the end of its body, or END_STREAM) reached the socket, on
the ``time.monotonic_ns()`` clock, and ``X-Arrival-Clock`` saying who stamped it: ``kernel``
(the kernel's receive timestamp, :mod:`stress.wire.kernel_stamps`: the wire's figure, whatever
this server's loop was doing) or ``loop`` (no kernel stamp was given, so the time this server
read the bytes). It runs in a child process (:func:`start_in_process`) so that the client under
test shares neither event loop nor GIL.

It reads its sockets itself (``recvmsg`` from a reader callback) rather than through an asyncio
transport, because the kernel's stamp travels as ancillary data that transports drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import h11

from stress.wire import kernel_stamps
from stress.wire.kernel_stamps import Clock

__all__ = ["CLOCK_HEADER", "main", "serve", "start_in_process"]

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_READ_SIZE = 65536
CLOCK_HEADER = "x-arrival-clock"


class _Connection:
    """One accepted socket; becomes HTTP/1.1 or HTTP/2 on its first bytes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        self._loop = loop
        self._sock = sock
        self._stamped = kernel_stamps.enable(sock)
        self._out = bytearray()
        self._closing = False
        self._buffer = b""
        self._h11: h11.Connection | None = None
        self._h2: h2.connection.H2Connection | None = None
        self._now = 0
        self._clock: Clock = kernel_stamps.LOOP
        loop.add_reader(sock, self._readable)

    def _readable(self) -> None:
        try:
            data, stamp = kernel_stamps.recv_stamped(self._sock, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self._close()
            return
        if not data:
            self._close()
            return
        if stamp is None:
            self._now, self._clock = time.monotonic_ns(), kernel_stamps.LOOP
        else:
            self._now, self._clock = stamp, kernel_stamps.KERNEL
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
        conn.receive_data(data)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                self._close()
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.EndOfMessage):
                headers = [
                    ("content-length", "2"),
                    ("x-arrival-ns", str(self._now)),
                    (CLOCK_HEADER, self._clock),
                ]
                out = conn.send(h11.Response(status_code=200, headers=headers)) or b""
                out += conn.send(h11.Data(data=b"ok")) or b""
                out += conn.send(h11.EndOfMessage()) or b""
                self._write(out)
                if conn.our_state is h11.MUST_CLOSE:
                    self._closing = True
                    self._flush()
                    return
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                self._close()
                return

    def _h2_received(self, data: bytes) -> None:
        conn = self._h2
        assert conn is not None
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._close()
            return
        for event in events:
            if isinstance(event, h2.events.DataReceived) and event.stream_id:
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers = [
                    (b":status", b"200"),
                    (b"content-length", b"2"),
                    (b"x-arrival-ns", str(self._now).encode()),
                    (CLOCK_HEADER.encode(), self._clock.encode()),
                ]
                conn.send_headers(event.stream_id, headers)
                conn.send_data(event.stream_id, b"ok", end_stream=True)
        self._write(conn.data_to_send())

    def _write(self, data: bytes) -> None:
        if not self._out:
            try:
                sent = self._sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close()
                return
            if sent == len(data):
                return
            data = data[sent:]
            self._loop.add_writer(self._sock, self._flush)
        self._out += data

    def _flush(self) -> None:
        if self._out:
            try:
                del self._out[: self._sock.send(self._out)]
            except BlockingIOError:
                return
            except OSError:
                self._close()
                return
        if not self._out:
            self._loop.remove_writer(self._sock)
            if self._closing:
                self._close()

    def _close(self) -> None:
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock)
            self._loop.remove_writer(self._sock)
            self._sock.close()


class Server:
    """The listening socket; accepts connections until :meth:`close`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, listener: socket.socket) -> None:
        self._loop = loop
        self._listener = listener
        self.port: int = listener.getsockname()[1]
        kernel_stamps.enable(listener)  # turns stamping on before the first segment arrives
        loop.add_reader(listener, self._accept)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. out of file descriptors: the client sees a refused connection
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _Connection(self._loop, sock)

    def close(self) -> None:
        """Stop accepting (open connections end with the process)."""
        self._loop.remove_reader(self._listener)
        self._listener.close()


async def serve(host: str = "127.0.0.1", port: int = 0) -> Server:
    """Start the server in the running asyncio loop; the caller closes it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(1024)
    listener.setblocking(False)
    return Server(asyncio.get_running_loop(), listener)


def main() -> None:
    """Child-process entry: serve, write the port on stdout, stop when stdin closes."""

    async def run() -> None:
        server = await serve()
        kernel_stamps.wait_until_on()  # before the first request, not during it
        sys.stdout.write(f"{server.port}\n")
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

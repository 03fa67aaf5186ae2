"""Tiny real servers on 127.0.0.1 for the wire client's tests.

They parse requests with h11 / h2 (server side), answer according to the request path, and
record every chunk the kernel hands them with its arrival time, so tests can observe exactly how
the client put bytes on the wire (a held-back last byte, one write holding every final frame).
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings
import h11
import pytest
from hyperframe.frame import GoAwayFrame, PingFrame


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class ConnRecord:
    """What one server-side connection received: (monotonic_ns, bytes) per recv."""

    chunks: list[tuple[int, bytes]] = field(default_factory=list)
    requests: int = 0


@dataclass
class Recorder:
    connections: list[ConnRecord] = field(default_factory=list)
    arrivals: list[int] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)  # HTTP/1.1: after each response's write


async def _h1_handler(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rec: Recorder
) -> None:
    conn_rec = ConnRecord()
    rec.connections.append(conn_rec)
    conn = h11.Connection(h11.SERVER)
    target = b""
    body = bytearray()
    headers: list[tuple[bytes, bytes]] = []
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                if data:
                    conn_rec.chunks.append((time.monotonic_ns(), data))
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                target, headers, body = event.target, list(event.headers), bytearray()
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                now = time.monotonic_ns()
                rec.arrivals.append(now)
                conn_rec.requests += 1
                if not await _h1_answer(
                    conn, writer, target, headers, bytes(body), now, (conn_rec, rec)
                ):
                    return
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                return
    except (h11.RemoteProtocolError, ConnectionError):
        return
    finally:
        writer.close()


async def _h1_answer(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    now: int,
    records: tuple[ConnRecord, Recorder],
) -> bool:
    """Write the response for ``target``; False when the connection must end."""
    conn_rec, rec = records
    target = target.split(b"?")[0]
    out: list[h11.Event] = []
    keep = True
    if target == b"/chunked":
        out.append(h11.Response(status_code=200, headers=[("transfer-encoding", "chunked")]))
        out += [h11.Data(data=part) for part in (b"hel", b"lo ", b"world")]
    elif target == b"/close":
        out.append(h11.Response(status_code=200, headers=[("connection", "close")]))
        out.append(h11.Data(data=b"bye"))
        keep = False
    elif target == b"/reset":
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return False
    elif target == b"/slow":
        await asyncio.sleep(30)
        return False
    elif target == b"/continue":
        out.append(h11.InformationalResponse(status_code=100, headers=[]))
        out.append(h11.Response(status_code=200, headers=[("content-length", "5")]))
        out.append(h11.Data(data=b"after"))
    elif target.startswith(b"/keep-alive-"):  # a Keep-Alive hint: timeout= the path's number
        hint = [("keep-alive", f"timeout={target.rsplit(b'-', 1)[1].decode()}, max=100")]
        out.append(h11.Response(status_code=200, headers=[*hint, ("content-length", "2")]))
        out.append(h11.Data(data=b"ok"))
    elif target == b"/cookies":
        cookies = [("set-cookie", "a=1"), ("set-cookie", "b=2"), ("content-length", "0")]
        out.append(h11.Response(status_code=200, headers=cookies))
    else:
        if target == b"/echo":
            payload = json.dumps(
                {
                    "body": body.decode(),
                    "headers": [[k.decode(), v.decode()] for k, v in headers],
                    "requests_on_conn": conn_rec.requests,
                }
            ).encode()
        else:
            payload = b"ok"
        length = str(len(payload))
        out.append(
            h11.Response(
                status_code=200,
                headers=[("content-length", length), ("x-arrival-ns", str(now))],
            )
        )
        out.append(h11.Data(data=payload))
    out.append(h11.EndOfMessage())
    for event in out:
        writer.write(conn.send(event) or b"")
        await writer.drain()
    rec.answered.append(time.monotonic_ns())
    return keep


async def _h2_handler(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rec: Recorder, max_streams: int
) -> None:
    conn_rec = ConnRecord()
    rec.connections.append(conn_rec)
    config = h2.config.H2Configuration(client_side=False, header_encoding=None)
    conn = h2.connection.H2Connection(config=config)
    conn.local_settings = h2.settings.Settings(
        client=False,
        initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_streams},
    )
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    paths: dict[int, bytes] = {}
    bodies: dict[int, bytearray] = {}
    drained: int | None = None
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            conn_rec.chunks.append((time.monotonic_ns(), data))
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    paths[event.stream_id] = dict(event.headers)[b":path"]
                    bodies[event.stream_id] = bytearray()
                elif isinstance(event, h2.events.DataReceived):
                    bodies[event.stream_id] += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    now = time.monotonic_ns()
                    rec.arrivals.append(now)
                    conn_rec.requests += 1
                    sid = event.stream_id
                    if paths[sid] == b"/rst":
                        conn.reset_stream(sid)
                        continue
                    if paths[sid] == b"/hold":
                        continue
                    if paths[sid] == b"/drain":
                        drained = sid
                    payload = bytes(bodies[sid]) or b"ok"
                    conn.send_headers(
                        sid,
                        [
                            (b":status", b"200"),
                            (b"content-length", str(len(payload)).encode()),
                            (b"x-arrival-ns", str(now).encode()),
                            (b"set-cookie", b"a=1"),
                            (b"set-cookie", b"b=2"),
                        ],
                    )
                    conn.send_data(sid, payload, end_stream=True)
            if drained is not None:
                writer.write(_graceful_shutdown(conn.data_to_send(), drained))
                await writer.drain()
                return
            writer.write(conn.data_to_send())
            await writer.drain()
    except ConnectionError:
        return
    finally:
        writer.close()


def _graceful_shutdown(answers: bytes, last_stream_id: int) -> bytes:
    """A graceful HTTP/2 shutdown as hyper (granian) sends it: GOAWAY(NO_ERROR) with the
    largest stream id and a PING, the answers to the streams in flight, then the GOAWAY that
    names the last stream processed. Written as raw frames, since h2 sends none after a GOAWAY.
    """
    first = GoAwayFrame(0, last_stream_id=2**31 - 1, error_code=0).serialize()
    ping = PingFrame(0, opaque_data=b"shutdown").serialize()
    final = GoAwayFrame(0, last_stream_id=last_stream_id, error_code=0).serialize()
    return first + ping + answers + final


@dataclass
class Server:
    port: int
    rec: Recorder
    scheme: str = "http"

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def h1_server() -> AsyncIterator[Server]:
    rec = Recorder()
    server = await asyncio.start_server(lambda r, w: _h1_handler(r, w, rec), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Server(port, rec)
    finally:
        server.close()


async def start_h2_server(max_streams: int = 100) -> tuple[asyncio.Server, Server]:
    rec = Recorder()
    server = await asyncio.start_server(
        lambda r, w: _h2_handler(r, w, rec, max_streams), "127.0.0.1", 0
    )
    return server, Server(server.sockets[0].getsockname()[1], rec)


@pytest.fixture
async def h2_server() -> AsyncIterator[Server]:
    server, info = await start_h2_server()
    try:
        yield info
    finally:
        server.close()


async def start_tls_server(
    cert_files: tuple[Path, Path], alpn: list[str], *, client_ca: Path | None = None
) -> tuple[asyncio.Server, Server]:
    """An https server with ``cert_files``; with ``client_ca`` it wants a client certificate
    that CA issued (mutual TLS)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert_files)
    context.set_alpn_protocols(alpn)
    if client_ca is not None:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    rec = Recorder()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ssl_obj = w.get_extra_info("ssl_object")
        if ssl_obj is not None and ssl_obj.selected_alpn_protocol() == "h2":
            await _h2_handler(r, w, rec, 100)
        else:
            await _h1_handler(r, w, rec)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    return server, Server(server.sockets[0].getsockname()[1], rec, "https")

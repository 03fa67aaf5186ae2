"""A byte pipe over one non-blocking socket, with TLS done in memory.

Why not anyio's ``SocketStream``/``TLSStream``: a tight burst needs to hand bytes to the kernel
*synchronously* and know exactly when it did. ``SocketStream.send`` always passes through the
event loop (a checkpoint per call), and on uvloop the stream's raw socket is a pseudo-socket
that cannot ``send``. So this module owns the socket: writes call ``socket.send`` directly and
buffer only what the kernel refused, reads wait with ``anyio.wait_readable`` and then ``recv``,
and TLS runs through ``ssl.SSLObject`` over two ``MemoryBIO``s (as anyio's ``TLSStream`` does
internally). That also lets an engine encrypt a final byte *before* the release
(:meth:`Transport.encode`) and put only ciphertext on the wire inside the tight loop.

Errors are :class:`WireFailure` with a short class (``connect``, ``tls``, ``reset``...).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl

import anyio

from stress.client_certificate import ClientCertificate
from stress.http_tls import tls_context, tls_failure
from stress.wire import kernel_stamps
from stress.wire._models import ErrorClass, Origin

__all__ = ["Transport", "WireFailure", "connect_socket", "make_ssl_context"]

_READ_SIZE = 256 * 1024


class WireFailure(Exception):
    """A request could not complete; ``kind`` is the short error class for the outcome."""

    def __init__(self, kind: ErrorClass, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: ErrorClass = kind
        self.detail = detail


def make_ssl_context(
    *,
    ca_file: str | None,
    insecure: bool,
    alpn: tuple[str, ...],
    certificate: ClientCertificate | None = None,
) -> ssl.SSLContext:
    """A client context offering ``alpn``, with the same CAs and client certificate as the
    control plane's (:func:`stress.http_tls.tls_context`)."""
    context = tls_context(ca_file, insecure, certificate)
    context.set_alpn_protocols(list(alpn))
    return context


class Transport:
    """One connected socket (optionally TLS) with synchronous writes and awaitable reads."""

    def __init__(self, sock: socket.socket, tls: ssl.SSLObject | None = None) -> None:
        self._sock = sock
        self._tls = tls
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._pending = bytearray()
        self._write_lock = anyio.Lock()
        self.closed = False
        self.alpn: str | None = None
        self.stamps_sends = False  # a kernel transmit stamp may still arrive (see _release)
        self._stamps_receives = False
        # The kernel's receive stamp of the last segment read (monotonic ns), once asked for
        # with stamp_receives; the reader resets it before a response.
        self.received_ns: int | None = None

    @classmethod
    async def connect(cls, origin: Origin, context: ssl.SSLContext | None) -> Transport:
        """Connect (TCP_NODELAY) and, when ``context`` is given, finish the TLS handshake."""
        sock = await connect_socket(origin.host, origin.port)
        transport = cls(sock)
        if context is None:
            return transport
        try:
            await transport._handshake(context, origin.host)
        except BaseException:
            transport.close()
            raise
        return transport

    async def _handshake(self, context: ssl.SSLContext, host: str) -> None:
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=host)
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.write_wire(self._outgoing.read())
                await self.flush()
                data = await self._recv_raw()
                if not data:
                    raise WireFailure("tls", "connection closed during the TLS handshake") from None
                self._incoming.write(data)
            except ssl.SSLError as exc:
                raise WireFailure("tls", tls_failure(exc)) from exc
        self.write_wire(self._outgoing.read())
        await self.flush()
        self.alpn = self._tls.selected_alpn_protocol()

    def encode(self, data: bytes) -> bytes:
        """The bytes that must go on the wire to deliver ``data`` (encrypted under TLS).

        The caller must put the result on the wire before encoding anything else.
        """
        if self._tls is None:
            return data
        self._tls.write(data)
        return self._outgoing.read()

    def write(self, data: bytes) -> bool:
        """Encode and hand ``data`` to the kernel now; True if nothing was left buffered."""
        return self.write_wire(self.encode(data))

    def write_wire(self, raw: bytes) -> bool:
        """Hand already-encoded bytes to the kernel in one ``send``; buffer any remainder.

        Returns True when the kernel took everything (the bytes have "left"), False when some
        of them wait for :meth:`flush`.
        """
        if self.closed:
            raise WireFailure("reset", "connection already closed")
        if self._pending:
            self._pending += raw
            return False
        try:
            sent = self._sock.send(raw)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise WireFailure("reset", f"send failed: {exc}") from exc
        if sent < len(raw):
            self._pending += raw[sent:]
            return False
        return True

    @property
    def sock(self) -> socket.socket:
        """The socket itself, for a release (:mod:`stress.wire._release`) and its stamps."""
        return self._sock

    def took(self, raw: bytes, sent: int) -> None:
        """Account for a write of ``raw`` done outside :meth:`write_wire` that took ``sent`` bytes.

        Only for a transport with nothing pending (the bytes must stay in order); the rest of
        ``raw`` waits for :meth:`flush`.
        """
        assert not self._pending, "a batched write needs an empty queue"
        if sent < len(raw):
            self._pending += raw[sent:]

    @property
    def has_pending(self) -> bool:
        """True while bytes accepted by :meth:`write` still wait for room in the kernel."""
        return bool(self._pending)

    async def flush(self) -> None:
        """Wait until every written byte has been handed to the kernel."""
        if not self._pending:
            return
        async with self._write_lock:
            while self._pending:
                await anyio.wait_writable(self._sock)
                try:
                    sent = self._sock.send(self._pending)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise WireFailure("reset", f"send failed: {exc}") from exc
                del self._pending[:sent]

    def stamp_receives(self) -> None:
        """Have every read record when its bytes reached this host (``received_ns``).

        For a reader that reads late on purpose (the last-byte engine stays off the CPU while
        the server works on a burst): the kernel's receive stamp still says when the response
        came. Where the kernel gives no stamp, ``received_ns`` stays None.
        """
        if not self._stamps_receives:
            self._stamps_receives = kernel_stamps.enable(self._sock)

    async def receive(self) -> bytes:
        """The next decrypted bytes from the peer; ``b""`` at end of stream."""
        if self._tls is None:
            return await self._recv_raw()
        while True:
            try:
                data = self._tls.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            except ssl.SSLError as exc:
                raise WireFailure("tls", tls_failure(exc)) from exc
            else:
                self._flush_tls_side_channel()
                return data
            raw = await self._recv_raw()
            if raw:
                self._incoming.write(raw)
            else:
                self._incoming.write_eof()

    def _flush_tls_side_channel(self) -> None:
        # TLS 1.3 may answer a KeyUpdate while reading; those bytes must go out too.
        if self._outgoing.pending:
            self.write_wire(self._outgoing.read())

    async def _recv_raw(self) -> bytes:
        while True:
            try:
                if self._stamps_receives:
                    data, stamp = kernel_stamps.recv_stamped(self._sock, _READ_SIZE)
                    if stamp is not None:  # (end of stream carries none)
                        self.received_ns = stamp
                    return data
                return self._sock.recv(_READ_SIZE)
            except BlockingIOError:
                if self.stamps_sends:  # a late transmit stamp would keep the socket "ready"
                    kernel_stamps.drain_errors(self._sock)
                await anyio.wait_readable(self._sock)
            except OSError as exc:
                raise WireFailure("reset", f"receive failed: {exc}") from exc

    def is_reusable(self) -> bool:
        """True when an idle connection is still open and has nothing unread (not peer-closed)."""
        if self.closed or self._pending or (self._tls is not None and self._tls.pending()):
            return False
        try:
            self._sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return True
        except OSError:
            return False
        return False  # EOF, or bytes nobody asked for: either way not safe to reuse

    def close(self) -> None:
        """Close the socket at once (no TLS close_notify: the tester never needs it)."""
        if not self.closed:
            self.closed = True
            self._sock.close()


async def connect_socket(host: str, port: int) -> socket.socket:
    """A connected non-blocking TCP socket; IP literals skip the resolver (and its thread)."""
    try:
        addresses: list[tuple[int, tuple[str, int]]] = [
            (
                socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET,
                (host, port),
            )
        ]
    except ValueError:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise WireFailure("connect", f"cannot resolve {host}: {exc}") from exc
        addresses = [(family, (str(addr[0]), int(addr[1]))) for family, _, _, _, addr in infos]
    detail = f"no address for {host}"
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code = sock.connect_ex(address)
            if code in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
                await anyio.wait_writable(sock)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                return sock
            detail = f"{address[0]}:{address[1]}: {errno.errorcode.get(code, code)}"
        except BaseException:
            sock.close()
            raise
        sock.close()
    raise WireFailure("connect", detail)

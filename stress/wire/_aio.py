"""Many socket writes in one system call: Linux AIO (``io_submit``) through ctypes.

Why: a burst's release is N ``send`` calls, and on loopback each one runs the receiver's TCP
processing and wakes the server; the wake-up makes the woken thread runnable on our core, and
the return from every ``send`` is a point where the kernel may switch to it, so a Python send
loop on a busy machine is often preempted mid-release (measured at N=8 against the built-in
server under load: median 83 us, p90 928 us). ``io_submit`` with one ``IOCB_CMD_PWRITE`` per
socket does all N writes inside one call, which returns to user space once; that return is
where a task the burst woke usually takes the core, so it runs after the writes rather than
between them (same machine, same minute: median 64 us, p90 98 us; a fully preemptible kernel
may still switch inside the call, less often). A write on a non-blocking socket completes
inside ``io_submit`` (the socket's ``write_iter`` never queues), so the results are reaped at
once.

Only where the numbers and the ``iocb`` layout are known (Linux on x86-64, arm64, riscv64 and
loongarch64, little-endian); elsewhere, or when ``io_setup`` is refused (a seccomp filter, the
system-wide ``aio-max-nr`` used up), :func:`available` is False and callers send in a loop.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys
import time
from collections.abc import Sequence

__all__ = ["MAX_BATCH", "available", "write_all"]

MAX_BATCH = 1024
"""Writes per ``io_submit`` (the context is sized for it; larger batches are split)."""

# (io_setup, io_submit, io_getevents): x86-64's own numbers, and asm-generic's.
_SYSCALLS = {
    "x86_64": (206, 209, 208),
    "amd64": (206, 209, 208),
    "aarch64": (0, 2, 4),
    "arm64": (0, 2, 4),
    "riscv64": (0, 2, 4),
    "loongarch64": (0, 2, 4),
}
_IOCB_CMD_PWRITE = 1
_TIMEOUT_SECONDS = 1  # completions are immediate; this only bounds a kernel that queued one


class _Iocb(ctypes.Structure):
    """``struct iocb`` (linux/aio_abi.h), little-endian layout."""

    _fields_ = (
        ("aio_data", ctypes.c_uint64),
        ("aio_key", ctypes.c_uint32),
        ("aio_rw_flags", ctypes.c_int32),
        ("aio_lio_opcode", ctypes.c_uint16),
        ("aio_reqprio", ctypes.c_int16),
        ("aio_fildes", ctypes.c_uint32),
        ("aio_buf", ctypes.c_uint64),
        ("aio_nbytes", ctypes.c_uint64),
        ("aio_offset", ctypes.c_int64),
        ("aio_reserved2", ctypes.c_uint64),
        ("aio_flags", ctypes.c_uint32),
        ("aio_resfd", ctypes.c_uint32),
    )


class _Event(ctypes.Structure):
    """``struct io_event``."""

    _fields_ = (
        ("data", ctypes.c_uint64),
        ("obj", ctypes.c_uint64),
        ("res", ctypes.c_int64),
        ("res2", ctypes.c_int64),
    )


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Context:
    """One process's AIO context (contexts do not survive ``fork``, hence the pid)."""

    def __init__(self) -> None:
        self.pid = -1
        self.id = ctypes.c_ulong(0)
        self.broken = False
        self.libc: ctypes.CDLL | None = None
        self.numbers = _SYSCALLS.get(platform.machine().lower())
        self.pinned: list[object] = []  # buffers of writes the kernel never reported done

    def ready(self) -> bool:
        if self.broken or self.numbers is None:
            return False
        if self.pid == os.getpid():
            return True
        if sys.platform != "linux" or sys.byteorder != "little" or ctypes.sizeof(_Iocb) != 64:
            self.broken = True
            return False
        libc = self.libc or ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        context = ctypes.c_ulong(0)
        if libc.syscall(ctypes.c_long(self.numbers[0]), MAX_BATCH, ctypes.byref(context)) != 0:
            self.broken = True
            return False
        self.libc, self.id, self.pid = libc, context, os.getpid()
        return True


_context = _Context()


def available() -> bool:
    """True when :func:`write_all` can batch in this process (the first call sets it up)."""
    return _context.ready()


def write_all(fds: Sequence[int], datas: Sequence[bytes]) -> tuple[list[int], int, int]:
    """Write ``datas[i]`` to ``fds[i]`` (non-blocking sockets) in as few calls as possible.

    Returns, per write, the bytes the kernel took (maybe fewer than asked) or ``-errno``;
    ``-EAGAIN`` means nothing was written (no room in the socket, or the write could not be
    submitted) and the caller may send those bytes itself. Also returns
    ``time.monotonic_ns()`` read just before the first ``io_submit`` and just after the last,
    so that preparing the call is not counted as part of the release. Requires
    :func:`available`.
    """
    if not _context.ready() or _context.libc is None or _context.numbers is None:
        raise RuntimeError("Linux AIO is not available in this process")
    results: list[int] = []
    start = end = 0
    for first in range(0, len(fds), MAX_BATCH):
        chunk = slice(first, first + MAX_BATCH)
        part, began, end = _submit(_context.libc, _context.numbers, fds[chunk], datas[chunk])
        start = start or began
        results += part
    return results, start, end


def _submit(
    libc: ctypes.CDLL, numbers: tuple[int, int, int], fds: Sequence[int], datas: Sequence[bytes]
) -> tuple[list[int], int, int]:
    count = len(fds)
    iocbs = (_Iocb * count)()
    pointers = (ctypes.POINTER(_Iocb) * count)()
    buffers = [ctypes.c_char_p(data) for data in datas]  # point into the bytes, no copy
    for i, (fd, data, buffer) in enumerate(zip(fds, datas, buffers, strict=True)):
        iocb = iocbs[i]
        iocb.aio_data = i
        iocb.aio_lio_opcode = _IOCB_CMD_PWRITE
        iocb.aio_fildes = fd
        iocb.aio_buf = ctypes.cast(buffer, ctypes.c_void_p).value or 0
        iocb.aio_nbytes = len(data)
        pointers[i] = ctypes.pointer(iocb)
    syscall, number, size = libc.syscall, ctypes.c_long(numbers[1]), ctypes.c_long(count)
    start = time.monotonic_ns()
    submitted = syscall(number, _context.id, size, pointers)
    end = time.monotonic_ns()
    if submitted < 0:
        if ctypes.get_errno() != errno.EAGAIN:  # not a passing shortage: stop trying
            _context.broken = True
        submitted = 0
    # Not submitted: nothing was written, the caller may send it itself. Submitted but never
    # reaped (below): unknown, so an error that ends the connection.
    results = [-errno.EIO] * submitted + [-errno.EAGAIN] * (count - submitted)
    events = (_Event * max(1, submitted))()
    timeout = _Timespec(_TIMEOUT_SECONDS, 0)
    reaped = 0
    while reaped < submitted:
        got = libc.syscall(
            ctypes.c_long(numbers[2]),
            _context.id,
            ctypes.c_long(submitted - reaped),
            ctypes.c_long(submitted - reaped),
            ctypes.byref(events),
            ctypes.byref(timeout),
        )
        if got <= 0:
            # Never seen for sockets; keep the memory the kernel may still read, stop batching.
            _context.pinned.append((iocbs, pointers, buffers, datas))
            _context.broken = True
            break
        for event in events[:got]:
            results[event.data] = event.res
        reaped += got
    return results, start, end

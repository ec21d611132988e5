"""Blocking socket I/O for the iperf3 client and server: every wait is bounded.

Each read takes an absolute deadline (time.monotonic) and an optional cancel event and
waits in short slices, so a silent, slow or vanished peer costs at most the deadline
and a cancelled caller is released within POLL_S. Data connections are driven by
`DataStream` threads that hand large buffers to the kernel: the interpreter only
loops, the kernel copies, which keeps a Python peer level with stock iperf3.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .iperf3_proto import (
    JSON_HEADER_SIZE,
    MAX_JSON_LEN,
    State,
    decode_json_body,
    decode_json_length,
    decode_state,
    encode_json,
    encode_state,
)

# How long any wait may go without looking at the cancel event and the clock.
POLL_S = 0.1
# Data sockets wake this often to see whether their stream was told to stop.
DATA_POLL_S = 0.2

_TCPI_TOTAL_RETRANS = 100  # offset of tcpi_total_retrans in Linux's struct tcp_info


class LinkError(Exception):
    """The connection, not the content, failed."""


class PeerClosed(LinkError):
    def __init__(self, received: int, wanted: int) -> None:
        super().__init__(f"connection closed after {received} of {wanted} bytes")
        self.received = received
        self.wanted = wanted


class PeerTimeout(LinkError):
    def __init__(self, received: int, wanted: int, waited_s: float) -> None:
        super().__init__(f"{received} of {wanted} bytes within {waited_s:g} s")
        self.received = received
        self.wanted = wanted
        self.waited_s = waited_s


class Cancelled(LinkError):
    pass


def _remaining(deadline: float, cancel: threading.Event | None) -> float:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
    return deadline - time.monotonic()


def recv_exact(sock: socket.socket, size: int, deadline: float,
               cancel: threading.Event | None = None) -> bytes:
    """Exactly `size` bytes before `deadline`, however slowly they trickle in."""
    started = time.monotonic()
    buf = bytearray()
    while len(buf) < size:
        left = _remaining(deadline, cancel)
        if left <= 0:
            raise PeerTimeout(len(buf), size, round(deadline - started, 3))
        sock.settimeout(min(left, POLL_S))
        try:
            chunk = sock.recv(size - len(buf))
        except TimeoutError:
            continue
        if not chunk:
            raise PeerClosed(len(buf), size)
        buf += chunk
    return bytes(buf)


def send_all(sock: socket.socket, data: bytes, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise PeerTimeout(0, len(data), 0.0)
    sock.settimeout(left)  # since 3.5 the timeout bounds the whole sendall
    try:
        sock.sendall(data)
    except TimeoutError:
        raise PeerTimeout(0, len(data), round(left, 3)) from None


def send_state(sock: socket.socket, state: State, deadline: float) -> None:
    send_all(sock, encode_state(state), deadline)


def read_state(sock: socket.socket, deadline: float,
               cancel: threading.Event | None = None) -> State:
    return decode_state(recv_exact(sock, 1, deadline, cancel))


def send_json(sock: socket.socket, message: dict[str, Any], deadline: float) -> None:
    send_all(sock, encode_json(message), deadline)


def read_json(sock: socket.socket, deadline: float, cancel: threading.Event | None = None,
              limit: int = MAX_JSON_LEN) -> dict[str, Any]:
    # The length is checked before a byte of the body is read or a buffer allocated.
    length = decode_json_length(recv_exact(sock, JSON_HEADER_SIZE, deadline, cancel), limit)
    return decode_json_body(recv_exact(sock, length, deadline, cancel))


def _ready(sock: socket.socket, events: int, timeout_s: float) -> bool:
    # a selector, not select(): a busy process may hold sockets numbered past 1024,
    # which select() refuses; on Windows the selector counts a failed connect as writable
    with selectors.DefaultSelector() as sel:
        sel.register(sock, events)
        return bool(sel.select(max(0.0, timeout_s)))


def readable(sock: socket.socket, timeout_s: float) -> bool:
    return _ready(sock, selectors.EVENT_READ, timeout_s)


def connect_tcp(host: str, port: int, timeout_s: float, deadline: float,
                cancel: threading.Event | None = None) -> socket.socket:
    """A connected TCP socket; raises OSError (refused, unreachable), TimeoutError or
    Cancelled. The connect runs non-blocking so a cancel does not wait for it."""
    until = min(deadline, time.monotonic() + timeout_s)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, socktype, proto, _, addr = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        sock.setblocking(False)
        err = sock.connect_ex(addr)
        in_progress = (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN,
                       getattr(errno, "WSAEWOULDBLOCK", -1))
        if err not in (0, *in_progress):
            raise OSError(err, os.strerror(err))
        while err:
            left = _remaining(until, cancel)
            if left <= 0:
                raise TimeoutError(f"no answer within {timeout_s:g} s")
            if _ready(sock, selectors.EVENT_WRITE, min(left, POLL_S)):
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                break
        sock.setblocking(True)
        return sock
    except BaseException:
        sock.close()
        raise


def set_nodelay(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def tcp_retransmits(sock: socket.socket) -> int | None:
    """The kernel's count of retransmitted segments, where the OS tells it (Linux)."""
    tcp_info = getattr(socket, "TCP_INFO", None)
    if tcp_info is None or not sys.platform.startswith("linux"):
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, tcp_info, 104)
    except OSError:
        return None
    if len(raw) < _TCPI_TOTAL_RETRANS + 4:
        return None
    return int(struct.unpack_from("I", raw, _TCPI_TOTAL_RETRANS)[0])


def congestion_control(sock: socket.socket) -> str | None:
    option = getattr(socket, "TCP_CONGESTION", None)
    if option is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, option, 16)
    except OSError:
        return None
    return raw.split(b"\0", 1)[0].decode("ascii", "replace") or None


def shutdown_quietly(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def close_quietly(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.close()
    except OSError:
        pass


class CpuMeter:
    """Process CPU use as iperf3 reports it: percent of one wall-clock interval."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._times0 = os.times()

    def read(self) -> tuple[float, float, float]:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        now = os.times()
        user = (now.user - self._times0.user) / elapsed * 100
        system = (now.system - self._times0.system) / elapsed * 100
        return round(user + system, 6), round(user, 6), round(system, 6)


class DataStream:
    """One data connection, sending or receiving in its own thread until stopped.

    `moved` only grows and is written by the worker alone; the controlling thread reads
    it to take snapshots (after omit, at the end), which needs no lock.
    """

    def __init__(self, sock: socket.socket, stream_id: int, sending: bool, block_size: int,
                 *, rate_bps: int = 0, may_send: Callable[[], bool] | None = None) -> None:
        self.sock = sock
        self.id = stream_id
        self.sending = sending
        self.block_size = block_size
        self.rate_bps = rate_bps
        self.may_send = may_send
        self.moved = 0
        self.eof = False
        self.error: OSError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"iperf3-stream-{stream_id}",
                                        daemon=True)

    @property
    def failed(self) -> bool:
        return self.eof or self.error is not None

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def halt(self, timeout_s: float = 2.0) -> None:
        """Stop, wake the worker out of a blocked call, wait for it, close the socket."""
        self._stop.set()
        shutdown_quietly(self.sock)
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
        close_quietly(self.sock)

    def _run(self) -> None:
        try:
            self.sock.settimeout(DATA_POLL_S)
            if self.sending:
                self._send_loop()
            else:
                self._recv_loop()
        except OSError as exc:
            if not self._stop.is_set():
                self.error = exc

    def _send_loop(self) -> None:
        # Random payload, as iperf3 sends by default, so no link compression flatters it.
        buf = memoryview(os.urandom(self.block_size))
        started = time.monotonic()
        send = self.sock.send
        stop = self._stop
        while not stop.is_set():
            if self.may_send is not None and not self.may_send():
                stop.wait(DATA_POLL_S)
                continue
            if self.rate_bps and self._ahead_of_rate(started):
                continue
            try:
                self.moved += send(buf)
            except TimeoutError:
                continue

    def _ahead_of_rate(self, started: float) -> bool:
        allowed = self.rate_bps * (time.monotonic() - started) / 8
        if self.moved < allowed:
            return False
        self._stop.wait(min(DATA_POLL_S, (self.moved - allowed) * 8 / self.rate_bps))
        return True

    def _recv_loop(self) -> None:
        buf = memoryview(bytearray(self.block_size))
        recv_into = self.sock.recv_into
        stop = self._stop
        while not stop.is_set():
            try:
                n = recv_into(buf)
            except TimeoutError:
                continue
            if n == 0:
                self.eof = True
                return
            self.moved += n

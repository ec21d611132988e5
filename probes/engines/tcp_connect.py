"""One TCP connect, timed by the kernel where it can be.

A connect's time measured around `await sock_connect` includes however long the event
loop took to notice the SYN/ACK: on a coordinator checking a whole room at once that is
tens to hundreds of milliseconds, and a handshake that completed in time can even be
seen after the timeout. Linux records the handshake's round trip itself (TCP_INFO
tcpi_rtt, taken from the SYN/ACK), and knows whether the connection is established when
our timeout fires: both are read here, so the figure is the network's, not ours.
Elsewhere (Windows) the wall-clock time is the figure, and says so (`timed_by`).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
import time
from dataclasses import dataclass

from readiness.vocabulary import (
    PORT_ERROR,
    PORT_OPEN,
    PORT_REFUSED,
    PORT_TIMEOUT,
    PORT_UNREACHABLE,
)

OPEN, REFUSED, TIMEOUT = PORT_OPEN, PORT_REFUSED, PORT_TIMEOUT
UNREACHABLE, ERROR = PORT_UNREACHABLE, PORT_ERROR

_TCP_INFO = getattr(socket, "TCP_INFO", None)
_TCP_ESTABLISHED = 1
# struct tcp_info (linux/tcp.h): u8 tcpi_state at 0, u32 tcpi_rtt (µs) at 68,
# u32 tcpi_total_retrans at 100
_INFO_BYTES = 104


@dataclass(frozen=True)
class Connect:
    state: str
    rtt_ms: float | None  # for OPEN and REFUSED: the host answered
    timed_by: str  # "kernel" (the SYN/ACK's round trip) or "clock"


def _tcp_info(sock: socket.socket) -> tuple[int, float, int] | None:
    """(state, handshake round trip in ms, retransmissions) or None off Linux."""
    if _TCP_INFO is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _INFO_BYTES)
    except OSError:
        return None
    if len(raw) < _INFO_BYTES:
        return None
    rtt_us = struct.unpack_from("=I", raw, 68)[0]
    retrans = struct.unpack_from("=I", raw, 100)[0]
    return raw[0], rtt_us / 1000.0, retrans


def _answered(sock: socket.socket, started: float) -> Connect:
    info = _tcp_info(sock)
    # A retransmitted SYN is a lost packet: its delay is part of what the user waits,
    # so the clock's figure stands.
    if info is not None and info[0] == _TCP_ESTABLISHED and info[2] == 0 and info[1] > 0:
        return Connect(OPEN, info[1], "kernel")
    return Connect(OPEN, (time.monotonic() - started) * 1000, "clock")


_UNREACHABLE_ERRNOS = (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN)


def _from_errno(code: int | None, started: float) -> Connect:
    if code == errno.ECONNREFUSED:
        # a reset is an answer; its time is the clock's (the kernel keeps no RTT for it)
        return Connect(REFUSED, (time.monotonic() - started) * 1000, "clock")
    if code in _UNREACHABLE_ERRNOS:
        return Connect(UNREACHABLE, None, "clock")
    return Connect(ERROR, None, "clock")


def _after_our_timeout(sock: socket.socket, started: float) -> Connect:
    """Our timeout fired: the event loop may have been late, not the host. The kernel
    knows whether the handshake finished or the host refused meanwhile."""
    info = _tcp_info(sock)
    if info is not None and info[0] == _TCP_ESTABLISHED:
        return _answered(sock, started)
    try:
        pending = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    except OSError:
        pending = 0
    return _from_errno(pending, started) if pending else Connect(TIMEOUT, None, "clock")


async def connect(address: str, port: int, timeout_s: float) -> Connect:
    """Open and close one TCP connection to address:port within `timeout_s`."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:  # no descriptors left, no IPv6 on this computer
        return _from_errno(exc.errno, started)
    try:
        sock.setblocking(False)
        attempt = asyncio.ensure_future(loop.sock_connect(sock, (address, port)))
        try:
            await asyncio.wait({attempt}, timeout=timeout_s)
        finally:
            if not attempt.done():
                attempt.cancel()
        if not attempt.done() or attempt.cancelled():
            await asyncio.wait({attempt})  # the cancelled connect lets go of the socket
            return _after_our_timeout(sock, started)
        exc = attempt.exception()
        if exc is None:
            return _answered(sock, started)
        return _from_errno(exc.errno if isinstance(exc, OSError) else None, started)
    finally:
        sock.close()

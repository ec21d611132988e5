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

OPEN = "open"
REFUSED = "refused"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
ERROR = "error"

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


async def connect(address: str, port: int, timeout_s: float) -> Connect:
    """Open and close one TCP connection to address:port within `timeout_s`."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    started = time.monotonic()
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await loop.sock_connect(sock, (address, port))
        except TimeoutError:
            # the event loop may have been late, not the host: ask the kernel
            info = _tcp_info(sock)
            if info is not None and info[0] == _TCP_ESTABLISHED:
                return _answered(sock, started)
            return Connect(TIMEOUT, None, "clock")
        return _answered(sock, started)
    except ConnectionRefusedError:
        return Connect(REFUSED, (time.monotonic() - started) * 1000, "clock")
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN):
            return Connect(UNREACHABLE, None, "clock")
        return Connect(ERROR, None, "clock")
    finally:
        sock.close()
